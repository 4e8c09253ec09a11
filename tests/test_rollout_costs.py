"""rollout_costs on both backends against the brute-force oracle (float64 models, so argmax
ties cannot blur the comparison: the answers must match exactly)."""

import math
import re

import pytest
import torch
from conftest import BACKENDS
from rollout_oracle import oracle_costs
from seq2seq_cases import CONFIGS, make_task

import searnn_ext


def rolled_in(task, policy="learned"):
    memory = task.model.encode(task.src, task.src_lengths)
    return task.model.roll_in(memory, task.target, task.target_lengths, policy=policy)


def all_candidates(task, rollin):
    batch, steps = rollin.tokens.shape
    vocab = task.model.target_vocab
    return torch.arange(vocab).expand(batch, steps, vocab).clone()


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


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("rollout", ["learned", "reference"])
@pytest.mark.parametrize("rollin_policy", ["reference", "learned"])
@pytest.mark.parametrize("cost", ["hamming", "edit"])
def test_matches_brute_force(backend, config, rollout, rollin_policy, cost):
    task = make_task(config)
    rollin = rolled_in(task, rollin_policy)
    candidates = all_candidates(task, rollin)
    costs = searnn_ext.rollout_costs(
        task.model,
        rollin,
        candidates,
        task.target,
        task.target_lengths,
        rollout=rollout,
        cost=cost,
        backend=backend,
    )
    want = expected(task, rollin, candidates, rollout == "learned", cost)
    assert costs.dtype == torch.float64 and costs.shape == candidates.shape
    assert torch.equal(costs, want)


def optimal_reference_costs(task, rollin, candidates, backend, normalize=True):
    """rollout_costs with the optimal reference and edit costs, and the enumeration oracle's."""
    costs = searnn_ext.rollout_costs(
        task.model,
        rollin,
        candidates,
        task.target,
        task.target_lengths,
        rollout="reference",
        reference="optimal",
        cost="edit",
        normalize=normalize,
        backend=backend,
    )
    want = expected(task, rollin, candidates, False, "edit", normalize, reference="optimal")
    return costs, want


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("rollin_policy", ["reference", "learned"])
def test_optimal_reference_matches_enumerated_completions(backend, config, rollin_policy):
    """Every completion over the model's tokens enumerated, for EOS and fixed-length tasks."""
    task = make_task(config, batch=5, length=5, vocab=4, seed=2)
    rollin = rolled_in(task, rollin_policy)
    costs, want = optimal_reference_costs(task, rollin, all_candidates(task, rollin), backend)
    assert costs.dtype == torch.float64
    assert torch.equal(costs, want)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("config", ["ocr", "spelling"])
def test_optimal_reference_unnormalised_float32_and_sampled_candidates(backend, config):
    """Unused slots (-1), unnormalised costs, a float32 model: still exact."""
    task = make_task(config, batch=6, length=6, vocab=4, seed=4)
    task.model.float()
    if task.src.is_floating_point():  # OCR's pixels
        task.src = task.src.float()
    rollin = rolled_in(task)
    generator = torch.Generator().manual_seed(2)
    candidates = torch.randint(-1, 4, (*rollin.tokens.shape, 3), generator=generator)
    costs, want = optimal_reference_costs(task, rollin, candidates, backend, normalize=False)
    assert costs.dtype == torch.float32
    assert torch.equal(costs, want.float())
    assert torch.isinf(costs[candidates < 0]).all()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("config", CONFIGS)
def test_optimal_reference_against_copying(backend, config):
    """Copying the target is one completion among those the optimal reference weighs, so it is
    never cheaper. On fixed-length tasks it is optimal: with x of length L <= |r| followed by
    |r| - L tokens, copying costs at most ED(x, r[:L]) <= ED(x, r[:j]) + |j - L| (the triangle
    inequality), the closed form's every term. EOS tasks may stop early or skip."""
    task = make_task(config, batch=8, length=9, vocab=6, seed=1)
    rollin = rolled_in(task)
    candidates = all_candidates(task, rollin)
    args = (task.model, rollin, candidates, task.target, task.target_lengths)

    def costs(reference):
        return searnn_ext.rollout_costs(
            *args, rollout="reference", reference=reference, cost="edit", backend=backend
        )

    optimal, copy = costs("optimal"), costs("copy")
    finite = torch.isfinite(copy)
    assert torch.equal(finite, torch.isfinite(optimal))
    if task.model.eos_id is None:
        assert torch.equal(optimal, copy)
    else:
        assert (optimal[finite] <= copy[finite]).all()
        assert (optimal[finite] < copy[finite]).any()  # the policies differ somewhere


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("rollout", ["reference", "mixed"])
def test_optimal_reference_for_hamming_is_copying(backend, config, rollout):
    task = make_task(config, batch=6, length=7, vocab=5, seed=3)
    rollin = rolled_in(task)
    candidates = all_candidates(task, rollin)
    args = (task.model, rollin, candidates, task.target, task.target_lengths)

    def costs(reference):
        generator = torch.Generator().manual_seed(0)
        return searnn_ext.rollout_costs(
            *args,
            rollout=rollout,
            reference=reference,
            cost="hamming",
            generator=generator,
            backend=backend,
        )

    assert torch.equal(costs("optimal"), costs("copy"))
    if rollout == "reference":
        assert torch.equal(costs("optimal"), expected(task, rollin, candidates, False, "hamming"))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("config", ["ocr", "spelling"])
def test_unnormalised_sampled_candidates_and_short_max_length(backend, config):
    task = make_task(config, batch=5, length=7, vocab=6, seed=3)
    rollin = rolled_in(task)
    generator = torch.Generator().manual_seed(1)
    candidates = torch.randint(-1, 6, (*rollin.tokens.shape, 3), generator=generator)
    costs = searnn_ext.rollout_costs(
        task.model,
        rollin,
        candidates,
        task.target,
        task.target_lengths,
        normalize=False,
        max_length=4,
        cost="edit",
        backend=backend,
    )
    want = expected(task, rollin, candidates, True, "edit", normalize=False, max_length=4)
    assert torch.equal(costs, want)
    assert torch.isinf(costs[candidates < 0]).all()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("config", ["chunking", "spelling"])
def test_mixed_policy(backend, config):
    task = make_task(config, batch=24, length=8, seed=5)
    rollin = rolled_in(task)
    candidates = all_candidates(task, rollin)
    args = (task.model, rollin, candidates, task.target, task.target_lengths)

    def costs(rollout, seed=None, mix_prob=0.5):
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        return searnn_ext.rollout_costs(
            *args, rollout=rollout, mix_prob=mix_prob, generator=generator, backend=backend
        )

    learned, reference, mixed = costs("learned"), costs("reference"), costs("mixed", seed=7)
    assert torch.equal(mixed, costs("mixed", seed=7))
    is_learned = (mixed == learned).all(dim=2)
    is_reference = (mixed == reference).all(dim=2)
    assert (is_learned | is_reference).all()
    telling = ~(learned == reference).all(dim=2)  # cells where the policy shows
    share = is_learned[telling].double().mean().item()
    assert telling.sum() > 50 and abs(share - 0.5) < 0.2
    assert torch.equal(costs("mixed", seed=3, mix_prob=1.0), learned)
    assert torch.equal(costs("mixed", seed=3, mix_prob=0.0), reference)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("config", ["ocr", "spelling-feeding"])
def test_mixed_policy_with_optimal_reference(backend, config):
    """Each mixed cell is exactly its learned or exactly its optimal costs, drawn as with the
    copying reference (the same generator draws the same cells)."""
    task = make_task(config, batch=24, length=8, seed=5)
    rollin = rolled_in(task)
    candidates = all_candidates(task, rollin)
    args = (task.model, rollin, candidates, task.target, task.target_lengths)

    def costs(rollout, reference="optimal", seed=None, mix_prob=0.5):
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        return searnn_ext.rollout_costs(
            *args,
            rollout=rollout,
            mix_prob=mix_prob,
            reference=reference,
            cost="edit",
            generator=generator,
            backend=backend,
        )

    learned, optimal, mixed = costs("learned"), costs("reference"), costs("mixed", seed=7)
    is_learned = (mixed == learned).all(dim=2)
    is_optimal = (mixed == optimal).all(dim=2)
    assert (is_learned | is_optimal).all()
    telling = ~(learned == optimal).all(dim=2)
    share = is_learned[telling].double().mean().item()
    assert telling.sum() > 50 and abs(share - 0.5) < 0.2
    copy = costs("reference", reference="copy")
    telling &= ~(learned == copy).all(dim=2)  # and the copying reference shows too
    mixed_copy = costs("mixed", reference="copy", seed=7)
    assert torch.equal(is_learned[telling], (mixed_copy == learned).all(dim=2)[telling])
    assert torch.equal(costs("mixed", seed=3, mix_prob=1.0), learned)
    assert torch.equal(costs("mixed", seed=3, mix_prob=0.0), optimal)


@pytest.mark.parametrize("backend", BACKENDS)
def test_max_rows_chunks_give_identical_costs(backend):
    task = make_task("chunking", batch=6, length=7)
    rollin = rolled_in(task)
    candidates = all_candidates(task, rollin)
    args = (task.model, rollin, candidates, task.target, task.target_lengths)
    whole = searnn_ext.rollout_costs(*args, backend=backend)
    for max_rows in (1, 7, 100):
        assert torch.equal(
            whole, searnn_ext.rollout_costs(*args, max_rows=max_rows, backend=backend)
        )


@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_is_off_in_rollouts_and_mode_is_restored(backend):
    task = make_task("chunking")
    task.model.train()
    rollin = rolled_in(task)
    candidates = all_candidates(task, rollin)
    costs = searnn_ext.rollout_costs(
        task.model, rollin, candidates, task.target, task.target_lengths, backend=backend
    )
    assert task.model.training
    assert torch.equal(costs, expected(task, rollin, candidates, True, "hamming"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_and_unused_candidates(backend):
    task = make_task("spelling")
    rollin = rolled_in(task)
    args = (task.model, rollin)
    for width in (0, 3):
        candidates = torch.full((*rollin.tokens.shape, width), -1)
        costs = searnn_ext.rollout_costs(
            *args, candidates, task.target, task.target_lengths, backend=backend
        )
        assert costs.shape == candidates.shape and bool(torch.isinf(costs).all())


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_model(backend):
    """float32 costs; with reference roll-outs no argmax is involved, so they are exact."""
    task = make_task("spelling")
    task.model.float()
    rollin = rolled_in(task)
    candidates = all_candidates(task, rollin)
    costs = searnn_ext.rollout_costs(
        task.model,
        rollin,
        candidates,
        task.target,
        task.target_lengths,
        rollout="reference",
        cost="edit",
        backend=backend,
    )
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


@pytest.mark.parametrize("backend", BACKENDS)
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
            "reference must be one of ('copy', 'optimal'), got 'best'",
        ),
        (lambda c: {"mix_prob": 1.5}, ValueError, "mix_prob must lie in [0, 1]"),
        (lambda c: {"cost": "bleu"}, ValueError, "cost must be one of ('hamming', 'edit')"),
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


@pytest.mark.parametrize("backend", BACKENDS)
def test_fixed_length_target_longer_than_rollin(backend):
    task = make_task("ocr")
    rollin = rolled_in(task)
    rollin.lengths = rollin.lengths - 1
    with pytest.raises(ValueError, match="target_lengths exceed rollin.lengths"):
        bad_call(task, rollin, backend=backend)()


@pytest.mark.parametrize("backend", BACKENDS)
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
