"""backend="auto", the default, runs the compiled kernels where they can run, and the
pure-PyTorch path where they cannot (the module did not load, or it has no kernel for the inputs'
device), saying why once; "ext" raises instead, and "cuda_emulated" takes CPU tensors only.
Every answer is checked against an independent oracle, and spies on both paths check which one
computed it: the two paths give the same answers, so the answer alone cannot tell."""

import logging

import pytest
import torch
from oracles import hamming, levenshtein, pairwise
from pairs import random_sequences
from rollout_oracle import oracle_costs
from seq2seq_cases import make_task

import searnn_ext
from searnn_ext import _extension, backends, rollout_torch, torch_path

# What each fixture below takes away, as the fallback's log line says it.
MISSING = {"module_missing": "did not load (an import error)", "no_cpu_kernel": "no cpu kernel"}
DEFAULT_AND_AUTO = [pytest.param({}, id="default"), pytest.param({"backend": "auto"}, id="auto")]
COST_OPS = [("edit_distance", levenshtein), ("hamming_distance", hamming)]
# rollout_costs' options, and the ops that compute them, each with its pure-PyTorch twin.
ROLLOUTS = {
    "learned": (
        {"rollout": "learned"},
        [("greedy_rollout", rollout_torch), ("edit_distance", torch_path)],
    ),
    "optimal-reference": (
        {"rollout": "reference", "reference": "optimal"},
        [("optimal_completion_distance", torch_path)],
    ),
}


@pytest.fixture(autouse=True)
def fresh_log():
    """Each test sees the log lines of its own calls: log_once remembers what it said."""
    backends.log_once.cache_clear()
    yield
    backends.log_once.cache_clear()


@pytest.fixture
def module_missing(monkeypatch):
    monkeypatch.setattr(_extension, "_C", None)
    monkeypatch.setattr(_extension, "LOAD_ERROR", "an import error")


@pytest.fixture
def no_cpu_kernel(monkeypatch):
    monkeypatch.setattr(torch._C, "_dispatch_has_kernel_for_dispatch_key", lambda *_: False)


def spy_on(monkeypatch, owner, name: str, calls: list[str]) -> None:
    """Wraps owner.name so that each call appends `name` to `calls`; it still runs."""
    function = getattr(owner, name)

    def spy(*arguments, **options):
        calls.append(name)
        return function(*arguments, **options)

    monkeypatch.setattr(owner, name, spy)


def calls_by_path(monkeypatch, ops) -> tuple[list[str], list[str]]:
    """The calls of the compiled ops (torch.ops.searnn) and those of their pure-PyTorch twins,
    for `ops`: (op name, module of its twin) pairs. Filled as the calls happen."""
    compiled, fallback = [], []
    for name, twin_module in ops:
        spy_on(monkeypatch, torch.ops.searnn, name, compiled)
        spy_on(monkeypatch, twin_module, name, fallback)
    return compiled, fallback


def pairs(generator):
    ref, ref_lengths = random_sequences(30, 40, 5, generator)
    hyp, hyp_lengths = random_sequences(30, 40, 5, generator)
    return hyp, hyp_lengths, ref, ref_lengths


def log_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == backends.logger.name]


@pytest.mark.parametrize("options", DEFAULT_AND_AUTO)
@pytest.mark.parametrize("op, oracle", COST_OPS)
def test_auto_runs_the_compiled_kernel_where_it_can(op, oracle, options, monkeypatch, generator):
    compiled, fallback = calls_by_path(monkeypatch, [(op, torch_path)])
    inputs = pairs(generator)
    assert getattr(searnn_ext, op)(*inputs, **options).tolist() == pairwise(oracle, *inputs)
    assert compiled == [op] and fallback == []


@pytest.mark.parametrize("options", DEFAULT_AND_AUTO)
@pytest.mark.parametrize("missing", list(MISSING))
@pytest.mark.parametrize("op, oracle", COST_OPS)
def test_auto_falls_back_and_says_why_once(
    missing, op, oracle, options, request, monkeypatch, generator, caplog
):
    request.getfixturevalue(missing)
    compiled, fallback = calls_by_path(monkeypatch, [(op, torch_path)])
    inputs = pairs(generator)
    with caplog.at_level(logging.INFO, logger=backends.logger.name):
        for _ in range(3):
            assert getattr(searnn_ext, op)(*inputs, **options).tolist() == pairwise(oracle, *inputs)
    assert compiled == [] and fallback == [op] * 3
    said = log_lines(caplog)
    assert len(said) == 1 and said[0].startswith(f"{op}: the pure-PyTorch path runs, because")
    assert MISSING[missing] in said[0]


@pytest.mark.parametrize(
    "missing, message",
    [
        ("module_missing", "needs the compiled extension searnn_ext._C, which did not load"),
        ("no_cpu_kernel", "has no cpu kernel. Pass backend='auto'"),
    ],
)
def test_ext_raises_where_auto_falls_back(missing, message, request, generator):
    request.getfixturevalue(missing)
    with pytest.raises(RuntimeError, match=message):
        searnn_ext.edit_distance(*pairs(generator), backend="ext")


def rollout_problem(rollout: str):
    """rollout_costs' arguments and options for a small spelling task (EOS, attention), and the
    brute-force oracle's costs."""
    options, _ = ROLLOUTS[rollout]
    task = make_task("spelling", batch=5, length=5, vocab=4, seed=2)
    model = task.model
    rollin = model.roll_in(
        model.encode(task.src, task.src_lengths), task.target, task.target_lengths
    )
    candidates = torch.arange(4).expand(*rollin.tokens.shape, 4).clone()
    arguments = (model, rollin, candidates, task.target, task.target_lengths)
    learned_cells = torch.full(rollin.tokens.shape, options["rollout"] == "learned")
    want = oracle_costs(
        *arguments,
        learned_cells,
        cost="edit",
        normalize=True,
        max_length=2 * task.target.shape[1],
        reference=options.get("reference", "copy"),
    )
    return arguments, {**options, "cost": "edit"}, want


@pytest.mark.parametrize("options", DEFAULT_AND_AUTO)
@pytest.mark.parametrize("rollout", list(ROLLOUTS))
def test_rollout_costs_auto_runs_the_compiled_kernels(rollout, options, monkeypatch, caplog):
    arguments, rollout_options, want = rollout_problem(rollout)
    ops = ROLLOUTS[rollout][1]
    compiled, fallback = calls_by_path(monkeypatch, ops)
    with caplog.at_level(logging.INFO, logger=backends.logger.name):
        costs = searnn_ext.rollout_costs(*arguments, **rollout_options, **options)
    assert torch.equal(costs, want)
    assert set(compiled) == {name for name, _ in ops} and fallback == []
    assert log_lines(caplog) == []


@pytest.mark.parametrize("options", DEFAULT_AND_AUTO)
@pytest.mark.parametrize("missing", list(MISSING))
@pytest.mark.parametrize("rollout", list(ROLLOUTS))
def test_rollout_costs_auto_falls_back_and_says_why_once(
    missing, rollout, options, request, monkeypatch, caplog
):
    arguments, rollout_options, want = rollout_problem(rollout)
    ops = ROLLOUTS[rollout][1]
    request.getfixturevalue(missing)
    compiled, fallback = calls_by_path(monkeypatch, ops)
    with caplog.at_level(logging.INFO, logger=backends.logger.name):
        for _ in range(2):
            costs = searnn_ext.rollout_costs(*arguments, **rollout_options, **options)
            assert torch.equal(costs, want)
    assert compiled == [] and set(fallback) == {name for name, _ in ops}
    said = log_lines(caplog)  # one line per op that fell back, over both calls
    assert len(said) == len(set(said))
    assert all("the pure-PyTorch path runs" in line and MISSING[missing] in line for line in said)
    assert {name for name, _ in ops} <= {line.split(":")[0] for line in said}
    with pytest.raises(RuntimeError, match="greedy_rollout\\(backend='ext'\\)"):
        searnn_ext.rollout_costs(*arguments, **rollout_options, backend="ext")


def test_cuda_emulated_takes_cpu_tensors_only():
    with pytest.raises(ValueError, match="its inputs must be CPU tensors, got cuda"):
        backends.compiled_ops("edit_distance", "cuda_emulated", torch.device("cuda"))
