"""SearnnTrainer steps for every loss and strategy, its configuration errors, and the error
rate against a plain decode-and-count oracle."""

import pytest
import torch
from conftest import TARGETS, Target
from oracles import levenshtein, plain_greedy
from seq2seq_cases import make_task

import searnn_ext
from searnn_ext.config import SearnnConfig
from searnn_ext.data import collate, load_synthetic
from searnn_ext.data.batching import Example
from searnn_ext.evaluation import error_rate
from searnn_ext.rollout import rollout_costs
from searnn_ext.trainer import SearnnTrainer


def small_setup(eos=False):
    data = load_synthetic(sizes=(8, 1, 1))
    options = dict(data.model_options)
    examples = data.train
    if eos:  # an EOS task: the target ends with an extra EOS token
        options.update(target_vocab=9, eos_id=8)
        examples = [Example(e.source, torch.cat([e.target, torch.tensor([8])])) for e in examples]
    torch.manual_seed(0)
    model = searnn_ext.Seq2Seq(hidden_size=16, attention="additive", **options)
    return model, collate(examples), data


@pytest.mark.parametrize(
    "config",
    [
        SearnnConfig(loss="mle"),
        SearnnConfig(loss="ll", rollin="learned", rollout="mixed"),
        SearnnConfig(loss="llcas", rollin="mixed", rollout="learned"),
        SearnnConfig(loss="shl", rollin="reference", rollout="reference"),
        SearnnConfig(loss="sll", sampling="pol", tokens=3, cells=2),
        SearnnConfig(loss="sllcas", sampling="stat", tokens=3, cells=0.5),
        SearnnConfig(loss="sll", sampling="bias", tokens=3, max_grad_norm=0.1),
        SearnnConfig(loss="ll", sampling="topk", tokens=2, cost="edit"),
        SearnnConfig(loss="ll", rollout="reference", reference="optimal", cost="edit"),
        SearnnConfig(loss="llcas", rollout="mixed", reference="optimal", cost="edit"),
    ],
)
@pytest.mark.parametrize("eos", [False, True])
def test_a_step_updates_the_model(config, eos):
    model, batch, data = small_setup(eos)
    before = [p.detach().clone() for p in model.parameters()]
    trainer = SearnnTrainer(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        config,
        token_frequencies=torch.arange(1.0, model.target_vocab + 1),
        generator=torch.Generator().manual_seed(0),
    )
    result = trainer.step(batch)
    assert result.loss == result.loss and result.loss >= 0  # finite, not NaN
    assert result.cells > 0
    assert (result.rollouts == 0) == (config.loss == "mle")
    changed = [not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True)]
    assert any(changed)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def ll_step(target: Target, eos: bool):
    """One float64 LL step (learned roll-in, mixed roll-out, edit costs) on `target`: its loss
    and the updated weights, on the CPU."""
    model, batch, _ = small_setup(eos)
    model = model.double().to(target.device)
    config = SearnnConfig(loss="ll", cost="edit", backend=target.backend)
    trainer = SearnnTrainer(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        config,
        generator=torch.Generator().manual_seed(0),
    )
    result = trainer.step(batch.to(target.device))
    return result.loss, [p.detach().cpu() for p in model.parameters()]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("eos", [False, True])
def test_a_step_is_the_same_on_every_target(target, eos):
    """The roll-out costs are exact in float64, so a step's loss and update are the CPU pure-
    PyTorch step's: exactly on the CPU, up to float rounding on a GPU."""
    loss, weights = ll_step(target, eos)
    want_loss, want_weights = ll_step(Target("torch", "cpu"), eos)
    exact = target.device == "cpu"
    assert loss == (want_loss if exact else pytest.approx(want_loss, rel=1e-9))
    for got, want in zip(weights, want_weights, strict=True):
        assert torch.equal(got, want) if exact else torch.allclose(got, want, rtol=1e-9)


@pytest.mark.parametrize(
    "config, message",
    [
        (SearnnConfig(loss="nll"), "loss must be one of"),
        (SearnnConfig(loss="llcas", sampling="pol"), "needs every token's cost"),
        (SearnnConfig(rollout="greedy"), "rollout must be one of"),
        (
            SearnnConfig(reference="best"),
            r"reference must be one of \('copy', 'optimal', 'best_suffix'\)",
        ),
        (SearnnConfig(rollin_mix_prob=2.0), "mix_prob must lie in"),
        (SearnnConfig(sampling="random"), "sampling must be one of"),
        (SearnnConfig(cost="meteor"), "cost must be one of"),
        (SearnnConfig(sampling="stat"), "needs token_frequencies"),
    ],
)
def test_bad_configurations_are_named(config, message):
    model, _, _ = small_setup()
    with pytest.raises(ValueError, match=message):
        SearnnTrainer(model, torch.optim.SGD(model.parameters(), lr=0.1), config)


def test_the_reference_policy_reaches_the_costs():
    """On an EOS task with edit costs, the optimal reference changes LLCAS's loss (which sees
    every cost); on a fixed-length one (copying is optimal there) it does not."""
    for eos, differs in [(True, True), (False, False)]:
        model, batch, _ = small_setup(eos)
        losses = []
        for reference in ("copy", "optimal"):
            config = SearnnConfig(
                loss="llcas", rollout="reference", reference=reference, cost="edit"
            )
            trainer = SearnnTrainer(model, torch.optim.SGD(model.parameters(), lr=0.1), config)
            losses.append(trainer.loss(batch)[0].item())
        assert (losses[0] != losses[1]) == differs


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("config", ["ocr", "spelling"])
def test_error_rate_matches_a_plain_decode(target, config):
    task = make_task(config, batch=6, length=5)
    model = task.model.eval()
    eos = model.eos_id is not None
    examples = [
        Example(task.src[b, : task.src_lengths[b]], task.target[b, : task.target_lengths[b]])
        for b in range(6)
    ]
    distance = total = 0
    for example in examples:
        reference = example.target.tolist()[: len(example.target) - int(eos)]
        width = 2 * max(len(e.target) for e in examples) if eos else len(example.source)
        decoded = plain_greedy(model, example, width)
        if eos:
            distance += levenshtein(decoded, reference)
        else:
            decoded = decoded[: len(reference)]
            distance += sum(a != b for a, b in zip(decoded, reference, strict=True))
        total += len(reference)
    cost = "edit" if eos else "hamming"
    got = error_rate(
        target.put(model),
        examples,
        cost=cost,
        batch_size=4,
        device=target.device,
        backend=target.backend,
    )
    assert got == pytest.approx(100 * distance / total)


@pytest.mark.parametrize("loss", ["mle", "ll", "llcas", "shl", "sll", "sllcas"])
def test_length_one_sequences_train_without_nan(loss):
    examples = [Example(torch.tensor([i % 5 + 1]), torch.tensor([i % 5 + 1])) for i in range(6)]
    torch.manual_seed(0)
    model = searnn_ext.Seq2Seq(target_vocab=7, source_vocab=7, hidden_size=8)
    config = SearnnConfig(loss=loss, sampling="all" if loss in ("llcas", "shl") else "uniform")
    trainer = SearnnTrainer(model, torch.optim.SGD(model.parameters(), lr=1.0), config)
    for _ in range(3):
        result = trainer.step(collate(examples))
        assert result.loss == result.loss and result.cells == 6
    assert all(torch.isfinite(p).all() for p in model.parameters())


class PoisonedTrainer(SearnnTrainer):
    """Its loss is multiplied by `poison`."""

    poison = 1.0

    def loss(self, batch):
        loss, cells, rollouts = super().loss(batch)
        return loss * self.poison, cells, rollouts


@pytest.mark.parametrize("poison", [float("nan"), float("inf")])
def test_a_non_finite_step_changes_nothing(poison):
    model, batch, _ = small_setup()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    trainer = PoisonedTrainer(model, optimizer, SearnnConfig(loss="ll"))
    assert trainer.step(batch).finite
    before = [p.detach().clone() for p in model.parameters()]
    moments = [optimizer.state[p]["exp_avg"].clone() for p in model.parameters()]
    trainer.poison = poison
    result = trainer.step(batch)
    assert not result.finite
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    after = [optimizer.state[p]["exp_avg"] for p in model.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(moments, after, strict=True))
    assert int(optimizer.state[next(model.parameters())]["step"]) == 1


def test_the_default_cost_is_the_models_natural_one():
    fixed, _, _ = small_setup()
    eos, _, _ = small_setup(eos=True)
    optimizer = torch.optim.SGD(fixed.parameters(), lr=0.1)
    assert SearnnTrainer(fixed, optimizer, SearnnConfig()).cost.name == "hamming"
    assert SearnnTrainer(eos, optimizer, SearnnConfig()).cost.name == "edit"
    assert SearnnTrainer(eos, optimizer, SearnnConfig(cost="hamming")).cost.name == "hamming"
    assert SearnnConfig().max_grad_norm == 5.0  # the command line's default too


@pytest.mark.parametrize("name, dtype", [("bfloat16", torch.bfloat16), ("float16", torch.float16)])
def test_rollout_dtype_runs_only_the_rollouts_under_autocast(name, dtype, monkeypatch):
    model, batch, _ = small_setup(eos=True)
    seen = []

    def recording(*arguments, **options):
        seen.append((torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")))
        return rollout_costs(*arguments, **options)

    monkeypatch.setattr(searnn_ext.trainer, "rollout_costs", recording)
    config = SearnnConfig(loss="ll", rollout="learned", rollout_dtype=name)
    trainer = SearnnTrainer(model, torch.optim.SGD(model.parameters(), lr=0.1), config)
    result = trainer.step(batch)
    assert seen == [(True, dtype)] and not torch.is_autocast_enabled("cpu")
    assert result.finite and all(p.dtype == torch.float32 for p in model.parameters())


def test_rollout_dtype_is_named_when_unknown():
    with pytest.raises(ValueError, match="rollout_dtype must be one of"):
        SearnnConfig(rollout_dtype="int8").check()
