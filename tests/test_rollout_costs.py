"""rollout_costs on every target (the compiled loop on the CPU, emulated CUDA and CUDA, and the
pure-PyTorch path) against the brute-force oracle, with float64 models so that argmax ties
cannot blur the comparison: the answers must match exactly. Then float16, bfloat16 and
autocast roll-outs, which must at least count the same cells."""

import dataclasses
import math
import re

import pytest
import torch
from conftest import TARGETS
from rollout_oracle import decision_margins, oracle_costs
from seq2seq_cases import CONFIGS, WIDE_CONFIGS, make_task

import searnn_ext
from searnn_ext import Memory, RollIn, rollout_ext


def rolled_in(task, policy="learned"):
    memory = task.model.encode(task.src, task.src_lengths)
    return task.model.roll_in(memory, task.target, task.target_lengths, policy=policy)


def all_candidates(task, rollin):
    batch, steps = rollin.tokens.shape
    vocab = task.model.target_vocab
    return torch.arange(vocab).expand(batch, steps, vocab).clone()


def moved(rollin, device):
    memory = rollin.memory
    keys = None if memory.keys is None else memory.keys.to(device)
    memory = Memory(
        memory.outputs.to(device), keys, memory.lengths.to(device), memory.final.to(device)
    )
    return RollIn(
        rollin.tokens.to(device), rollin.logits.to(device), rollin.lengths.to(device), memory
    )


def costs_on(target, task, rollin, candidates, **options):
    """rollout_costs on `target` (the task and roll-in moved there), back on the CPU."""
    task = task.to(target.device)
    costs = searnn_ext.rollout_costs(
        task.model,
        moved(rollin, target.device),
        target.put(candidates),
        task.target,
        task.target_lengths,
        backend=target.backend,
        **options,
    )
    return costs.cpu()


def expected(
    task, rollin, candidates, learned, cost, normalize=True, max_length=None, reference="copy"
):
    learned_cells = torch.full(rollin.tokens.shape, learned, dtype=torch.bool)
    max_length = max_length or 2 * task.target.shape[1]
    return oracle_costs(
        task.model,
        rollin,
        candidates,
        task.target,
        task.target_lengths,
        learned_cells,
        cost=cost,
        normalize=normalize,
        max_length=max_length,
        reference=reference,
    )


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("rollout", ["learned", "reference"])
@pytest.mark.parametrize("rollin_policy", ["reference", "learned"])
@pytest.mark.parametrize("cost", ["hamming", "edit"])
def test_matches_brute_force(target, config, rollout, rollin_policy, cost):
    task = make_task(config)
    rollin = rolled_in(task, rollin_policy)
    candidates = all_candidates(task, rollin)
    costs = costs_on(target, task, rollin, candidates, rollout=rollout, cost=cost)
    want = expected(task, rollin, candidates, rollout == "learned", cost)
    assert costs.dtype == torch.float64 and costs.shape == candidates.shape
    assert torch.equal(costs, want)


def optimal_reference_costs(target, task, rollin, candidates, normalize=True):
    """rollout_costs with the optimal reference and edit costs, and the enumeration oracle's."""
    costs = costs_on(
        target,
        task,
        rollin,
        candidates,
        rollout="reference",
        reference="optimal",
        cost="edit",
        normalize=normalize,
    )
    want = expected(task, rollin, candidates, False, "edit", normalize, reference="optimal")
    return costs, want


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("rollin_policy", ["reference", "learned"])
def test_optimal_reference_matches_enumerated_completions(target, config, rollin_policy):
    """Every completion over the model's tokens enumerated, for EOS and fixed-length tasks."""
    task = make_task(config, batch=5, length=5, vocab=4, seed=2)
    rollin = rolled_in(task, rollin_policy)
    costs, want = optimal_reference_costs(target, task, rollin, all_candidates(task, rollin))
    assert costs.dtype == torch.float64
    assert torch.equal(costs, want)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("config", ["ocr", "spelling"])
def test_optimal_reference_unnormalised_float32_and_sampled_candidates(target, config):
    """Unused slots (-1), unnormalised costs, a float32 model: still exact."""
    task = make_task(config, batch=6, length=6, vocab=4, seed=4)
    task.model.float()
    if task.src.is_floating_point():  # OCR's pixels
        task.src = task.src.float()
    rollin = rolled_in(task)
    generator = torch.Generator().manual_seed(2)
    candidates = torch.randint(-1, 4, (*rollin.tokens.shape, 3), generator=generator)
    costs, want = optimal_reference_costs(target, task, rollin, candidates, normalize=False)
    assert costs.dtype == torch.float32
    assert torch.equal(costs, want.float())
    assert torch.isinf(costs[candidates < 0]).all()


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("config", CONFIGS)
def test_optimal_reference_against_copying(target, config):
    """Copying the target is one completion among those the optimal reference weighs, so it is
    never cheaper. On fixed-length tasks it is optimal: with x of length L <= |r| followed by
    |r| - L tokens, copying costs at most ED(x, r[:L]) <= ED(x, r[:j]) + |j - L| (the triangle
    inequality), the closed form's every term. EOS tasks may stop early or skip."""
    task = make_task(config, batch=8, length=9, vocab=6, seed=1)
    rollin = rolled_in(task)
    candidates = all_candidates(task, rollin)

    def costs(reference):
        return costs_on(
            target, task, rollin, candidates, rollout="reference", reference=reference, cost="edit"
        )

    optimal, copy = costs("optimal"), costs("copy")
    finite = torch.isfinite(copy)
    assert torch.equal(finite, torch.isfinite(optimal))
    if task.model.eos_id is None:
        assert torch.equal(optimal, copy)
    else:
        assert (optimal[finite] <= copy[finite]).all()
        assert (optimal[finite] < copy[finite]).any()  # the policies differ somewhere


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("rollout", ["reference", "mixed"])
def test_optimal_reference_for_hamming_is_copying(target, config, rollout):
    task = make_task(config, batch=6, length=7, vocab=5, seed=3)
    rollin = rolled_in(task)
    candidates = all_candidates(task, rollin)

    def costs(reference):
        generator = torch.Generator().manual_seed(0)
        return costs_on(
            target,
            task,
            rollin,
            candidates,
            rollout=rollout,
            reference=reference,
            cost="hamming",
            generator=generator,
        )

    assert torch.equal(costs("optimal"), costs("copy"))
    if rollout == "reference":
        assert torch.equal(costs("optimal"), expected(task, rollin, candidates, False, "hamming"))


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("config", ["ocr", "spelling"])
def test_unnormalised_sampled_candidates_and_short_max_length(target, config):
    task = make_task(config, batch=5, length=7, vocab=6, seed=3)
    rollin = rolled_in(task)
    generator = torch.Generator().manual_seed(1)
    candidates = torch.randint(-1, 6, (*rollin.tokens.shape, 3), generator=generator)
    costs = costs_on(target, task, rollin, candidates, normalize=False, max_length=4, cost="edit")
    want = expected(task, rollin, candidates, True, "edit", normalize=False, max_length=4)
    assert torch.equal(costs, want)
    assert torch.isinf(costs[candidates < 0]).all()


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(
    "config, reference, cost",
    [
        ("chunking", "copy", "hamming"),
        ("spelling", "copy", "hamming"),
        ("ocr", "optimal", "edit"),
        ("spelling-feeding", "optimal", "edit"),
    ],
)
def test_mixed_policy(target, config, reference, cost):
    """Each mixed cell is exactly its learned or exactly its reference costs, about half each,
    and which cells are learned does not depend on the reference policy."""
    task = make_task(config, batch=24, length=8, seed=5)
    rollin = rolled_in(task)
    candidates = all_candidates(task, rollin)

    def costs(rollout, seed=None, mix_prob=0.5, reference=reference):
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        return costs_on(
            target,
            task,
            rollin,
            candidates,
            rollout=rollout,
            mix_prob=mix_prob,
            reference=reference,
            cost=cost,
            generator=generator,
        )

    learned, by_reference, mixed = costs("learned"), costs("reference"), costs("mixed", seed=7)
    assert torch.equal(mixed, costs("mixed", seed=7))
    is_learned = (mixed == learned).all(dim=2)
    is_reference = (mixed == by_reference).all(dim=2)
    assert (is_learned | is_reference).all()
    telling = ~(learned == by_reference).all(dim=2)  # cells where the policy shows
    share = is_learned[telling].double().mean().item()
    assert telling.sum() > 50 and abs(share - 0.5) < 0.2
    assert torch.equal(costs("mixed", seed=3, mix_prob=1.0), learned)
    assert torch.equal(costs("mixed", seed=3, mix_prob=0.0), by_reference)
    if reference != "copy":  # the same draws as with the copying reference
        telling &= ~(learned == costs("reference", reference="copy")).all(dim=2)
        mixed_copy = costs("mixed", reference="copy", seed=7)
        assert torch.equal(is_learned[telling], (mixed_copy == learned).all(dim=2)[telling])


@pytest.mark.parametrize("target", TARGETS)
def test_max_rows_chunks_give_identical_costs(target):
    task = make_task("chunking", batch=6, length=7)
    rollin = rolled_in(task)
    candidates = all_candidates(task, rollin)
    whole = costs_on(target, task, rollin, candidates)
    for max_rows in (1, 7, 100):
        assert torch.equal(whole, costs_on(target, task, rollin, candidates, max_rows=max_rows))


@pytest.mark.parametrize("target", TARGETS)
def test_dropout_is_off_in_rollouts_and_mode_is_restored(target):
    task = make_task("chunking").to(target.device)
    task.model.train()
    rollin = rolled_in(task)
    candidates = target.put(all_candidates(task, rollin))
    costs = searnn_ext.rollout_costs(
        task.model, rollin, candidates, task.target, task.target_lengths, backend=target.backend
    )
    assert task.model.training
    want = expected(task.to("cpu"), moved(rollin, "cpu"), candidates.cpu(), True, "hamming")
    assert torch.equal(costs.cpu(), want)


@pytest.mark.parametrize("target", TARGETS)
def test_empty_and_unused_candidates(target):
    task = make_task("spelling")
    rollin = rolled_in(task)
    for width in (0, 3):
        candidates = torch.full((*rollin.tokens.shape, width), -1)
        costs = costs_on(target, task, rollin, candidates)
        assert costs.shape == candidates.shape and bool(torch.isinf(costs).all())


@pytest.mark.parametrize("target", TARGETS)
def test_float32_model(target):
    """float32 costs; with reference roll-outs no argmax is involved, so they are exact."""
    task = make_task("spelling")
    task.model.float()
    rollin = rolled_in(task)
    candidates = all_candidates(task, rollin)
    costs = costs_on(target, task, rollin, candidates, rollout="reference", cost="edit")
    assert costs.dtype == torch.float32
    want = expected(task, rollin, candidates, False, "edit")
    assert torch.equal(costs, want.float())


def bad_call(task, rollin, **change):
    arguments = dict(
        model=task.model,
        rollin=rollin,
        candidates=all_candidates(task, rollin),
        target=task.target,
        target_lengths=task.target_lengths,
    )
    options = {k: change.pop(k) for k in list(change) if k not in arguments}
    arguments.update(change)
    return lambda: searnn_ext.rollout_costs(**arguments, **options)


@pytest.mark.parametrize("backend", ["ext", "cuda_emulated", "torch"])
@pytest.mark.parametrize(
    "change, error, message",
    [
        (lambda c: {"candidates": c + 5}, ValueError, "candidates must lie in [0, 5) or be -1"),
        (lambda c: {"candidates": c - 2}, ValueError, "candidates must lie in [0, 5)"),
        (lambda c: {"candidates": c.float()}, TypeError, "candidates must be int64"),
        (lambda c: {"candidates": c[:2]}, ValueError, "candidates must have shape [4, 6, K]"),
        (lambda c: {"candidates": c[:, :, 0]}, ValueError, "candidates must have shape"),
        (
            lambda c: {"target": torch.zeros((3, 6), dtype=torch.long)},
            ValueError,
            "target must have shape [4, Tt]",
        ),
        (
            lambda c: {"target_lengths": torch.tensor([6, 6, 6])},
            ValueError,
            "target_lengths must have shape [4]",
        ),
        (
            lambda c: {"target_lengths": torch.tensor([6, 6, 6, 9])},
            ValueError,
            "target_lengths must lie in [0, 6]",
        ),
        (lambda c: {"rollout": "greedy"}, ValueError, "rollout must be one of"),
        (
            lambda c: {"reference": "best"},
            ValueError,
            "reference must be one of ('copy', 'optimal', 'best_suffix'), got 'best'",
        ),
        (lambda c: {"mix_prob": 1.5}, ValueError, "mix_prob must lie in [0, 1]"),
        (
            lambda c: {"cost": "meteor"},
            ValueError,
            "cost must be one of ('hamming', 'edit', 'bleu', 'gleu', 'chunk_f1')",
        ),
        (lambda c: {"max_rows": 0}, ValueError, "max_rows must be positive"),
        (lambda c: {"max_length": 0}, ValueError, "max_length must be positive"),
    ],
)
def test_bad_inputs(backend, change, error, message):
    task = make_task("ocr")
    rollin = rolled_in(task)
    call = bad_call(task, rollin, backend=backend, **change(all_candidates(task, rollin)))
    with pytest.raises(error, match=re.escape(message)):
        call()


@pytest.mark.parametrize("backend", ["ext", "cuda_emulated", "torch"])
def test_fixed_length_target_longer_than_rollin(backend):
    task = make_task("ocr")
    rollin = rolled_in(task)
    rollin.lengths = rollin.lengths - 1
    with pytest.raises(ValueError, match="target_lengths exceed rollin.lengths"):
        bad_call(task, rollin, backend=backend)()


@pytest.mark.parametrize("backend", ["ext", "cuda_emulated", "torch"])
def test_eos_target_without_eos(backend):
    task = make_task("spelling")
    rollin = rolled_in(task)
    target = task.target.clone()
    target[0, task.target_lengths[0] - 1] = 3
    with pytest.raises(ValueError, match="each target must end with eos_id=0"):
        bad_call(task, rollin, target=target, backend=backend)()


def test_unknown_backend():
    task = make_task("ocr")
    with pytest.raises(ValueError, match="backend must be one of"):
        bad_call(task, rolled_in(task), backend="gpu")()


def test_inf_only_outside_trajectories():
    task = make_task("spelling", batch=6)
    rollin = rolled_in(task, "learned")
    costs = searnn_ext.rollout_costs(
        task.model,
        rollin,
        all_candidates(task, rollin),
        task.target,
        task.target_lengths,
        backend="torch",
    )
    steps = torch.arange(rollin.tokens.shape[1])
    inside = steps < rollin.lengths[:, None]
    assert torch.isfinite(costs[inside]).all() and torch.isinf(costs[~inside]).all()
    assert not math.isnan(costs.sum().item())


def low_precision_costs(target, task, dtype, autocast=False):
    """Costs of a reference roll-in's cells with the task's model in `dtype` (or in float32
    under autocast to `dtype`), every token a candidate, on `target`."""
    task = task.to(target.device)
    model = task.model.eval() if autocast else task.model.eval().to(dtype)
    src = task.src.to(dtype) if task.src.is_floating_point() and not autocast else task.src
    with torch.autocast(torch.device(target.device).type, dtype=dtype, enabled=autocast):
        memory = model.encode(src, task.src_lengths)
        rollin = model.roll_in(memory, task.target, task.target_lengths)
        candidates = all_candidates(task, rollin).to(target.device)
        return searnn_ext.rollout_costs(
            model,
            rollin,
            candidates,
            task.target,
            task.target_lengths,
            cost="edit",
            backend=target.backend,
        ).cpu()


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("config", ["ocr-2layers", "chunking", "spelling-feeding"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("autocast", [False, True], ids=["model", "autocast"])
def test_low_precision_counts_the_float32_cells(target, config, dtype, autocast):
    """float16 and bfloat16 models, and float32 ones under autocast, roll out: costs in float32,
    +inf exactly where float32's are, and equal to float32's but for rare near-ties."""
    task = make_task(config, batch=8, length=7)
    task.model.float()
    if task.src.is_floating_point():
        task.src = task.src.float()
    full = low_precision_costs(target, task, torch.float32)
    low = low_precision_costs(target, task, dtype, autocast)
    assert low.dtype == torch.float32
    assert torch.equal(low.isinf(), full.isinf())
    finite = full.isfinite()
    assert (low[finite] == full[finite]).double().mean() >= 0.9


EOS_BIAS = {"spelling": 0.15, "spelling-feeding": -0.15}


@pytest.mark.parametrize("config", ["ocr", "spelling", "spelling-feeding"])
@pytest.mark.parametrize("max_length", [None, 3])
def test_a_greedy_rollin_is_the_rollout_of_its_own_tokens(config, max_length, monkeypatch):
    """Those roll-outs are not decoded again, and the costs are the same as when they are."""
    task = make_task(config, batch=6, length=6)
    if task.model.eos_id is not None:  # so that some trajectories end within the target's width
        with torch.no_grad():
            task.model.output.bias[task.model.eos_id] += EOS_BIAS[config]
    rollin = rolled_in(task)
    assert rollin.greedy
    decoded = []
    decode = rollout_ext.greedy_rollout

    def counting(*arguments, **options):
        decoded.append(arguments[5].shape[0])
        return decode(*arguments, **options)

    monkeypatch.setattr(rollout_ext, "greedy_rollout", counting)
    candidates = all_candidates(task, rollin)
    args = (task.model, task.target, task.target_lengths)

    def costs(trajectory):
        return searnn_ext.rollout_costs(
            args[0], trajectory, candidates, *args[1:], max_length=max_length, cost="edit"
        )

    reused, decoded_again = costs(rollin), costs(dataclasses.replace(rollin, greedy=False))
    assert torch.equal(reused, decoded_again)
    assert decoded[0] < decoded[1]
    with_eos = task.model.eos_id is not None
    if not with_eos or max_length is None:  # every decoded cell's own token, EOS excepted
        own = rollin.tokens[:, :, None] == candidates
        last = rollin.lengths - (0 if with_eos else 1)  # a fixed-length last step: no decoding
        inside = torch.arange(rollin.tokens.shape[1]) < last[:, None]
        not_eos = rollin.tokens != task.model.eos_id if with_eos else True
        ended = (rollin.tokens == task.model.eos_id).any(1, keepdim=True) if with_eos else True
        reusable = own.any(2) & inside & not_eos & ended
        assert decoded[1] - decoded[0] == int(reusable.sum()) > 0


def test_a_rollin_with_dropout_is_not_greedy():
    task = make_task("chunking")
    task.model.train()
    assert not rolled_in(task).greedy
    task.model.eval()
    assert rolled_in(task).greedy and not rolled_in(task, "reference").greedy


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("config", ["ocr", "spelling", "spelling-feeding", "chunking"])
def test_bfloat16_costs_are_float32_costs_where_choices_are_clear(target, config):
    """Where every greedy choice of a roll-out wins by a clear margin (0.05 in logits, several
    times bfloat16's rounding of them), bfloat16 roll-outs must cost exactly what float32 ones
    do: only near-ties may differ."""
    task = make_task(config, batch=8, length=7)
    task.model.float().eval()
    if task.src.is_floating_point():
        task.src = task.src.float()
    model = task.model
    rollin = model.roll_in(
        model.encode(task.src, task.src_lengths), task.target, task.target_lengths
    )
    candidates = all_candidates(task, rollin)
    max_length = 2 * task.target.shape[1]
    clear = (
        decision_margins(model, rollin, candidates, task.target_lengths, max_length=max_length)
        > 0.05
    )
    full = low_precision_costs(target, task, torch.float32)
    low = low_precision_costs(target, task, torch.bfloat16, autocast=True)
    counted = torch.isfinite(full)
    assert (clear & counted).sum() >= 0.25 * counted.sum()  # not an empty claim
    assert torch.equal(full[clear & counted], low[clear & counted])


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("config", WIDE_CONFIGS)
def test_wide_models_match_brute_force(target, config):
    """70 hidden units, 70 output tokens and 40 source positions: every lane of a warp has
    several of each, so a lane's stride is exercised, not just its first element."""
    task = make_task(config, batch=2, length=40, vocab=70, seed=1)
    task.src_lengths[:] = 40
    task.target = task.target[:, :4]
    if task.model.eos_id is None:
        task.target_lengths[:] = 4
    else:
        task.target[:, 3] = task.model.eos_id
        task.target_lengths[:] = 4
    rollin = rolled_in(task)
    candidates = all_candidates(task, rollin)
    costs = costs_on(target, task, rollin, candidates, cost="edit", max_length=6)
    want = expected(task, rollin, candidates, True, "edit", max_length=6)
    assert torch.equal(costs, want)
