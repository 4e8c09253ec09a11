"""backend="auto" falls back to the pure-PyTorch path where the compiled kernels cannot run
(the module did not load, or it has no kernel for the inputs' device), saying why once;
"ext" raises instead, and "cuda_emulated" takes CPU tensors only."""

import logging

import pytest
import torch
from oracles import hamming, levenshtein, pairwise
from pairs import random_sequences
from seq2seq_cases import make_task

import searnn_ext
from searnn_ext import _extension, backends


@pytest.fixture
def module_missing(monkeypatch):
    monkeypatch.setattr(_extension, "_C", None)
    monkeypatch.setattr(_extension, "LOAD_ERROR", "an import error")
    backends.log_once.cache_clear()


@pytest.fixture
def no_cpu_kernel(monkeypatch):
    monkeypatch.setattr(torch._C, "_dispatch_has_kernel_for_dispatch_key", lambda *_: False)
    backends.log_once.cache_clear()


def pairs(generator):
    ref, ref_lengths = random_sequences(30, 40, 5, generator)
    hyp, hyp_lengths = random_sequences(30, 40, 5, generator)
    return hyp, hyp_lengths, ref, ref_lengths


@pytest.mark.parametrize("missing", ["module_missing", "no_cpu_kernel"])
@pytest.mark.parametrize(
    "op, oracle",
    [(searnn_ext.edit_distance, levenshtein), (searnn_ext.hamming_distance, hamming)],
)
def test_auto_falls_back_and_says_why_once(missing, op, oracle, request, generator, caplog):
    request.getfixturevalue(missing)
    inputs = pairs(generator)
    with caplog.at_level(logging.INFO, logger="searnn_ext.backends"):
        for _ in range(3):
            assert op(*inputs, backend="auto").tolist() == pairwise(oracle, *inputs)
    why = "did not load (an import error)" if missing == "module_missing" else "no cpu kernel"
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "the pure-PyTorch path runs" in said[0] and why in said[0]


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


@pytest.mark.parametrize("missing", ["module_missing", "no_cpu_kernel"])
def test_rollout_costs_auto_falls_back(missing, request):
    task = make_task("spelling")
    model = task.model
    memory = model.encode(task.src, task.src_lengths)
    rollin = model.roll_in(memory, task.target, task.target_lengths, policy="learned")
    candidates = torch.arange(5).expand(*rollin.tokens.shape, 5).clone()
    args = (model, rollin, candidates, task.target, task.target_lengths)
    want = searnn_ext.rollout_costs(*args, backend="torch", cost="edit")
    request.getfixturevalue(missing)
    assert torch.equal(searnn_ext.rollout_costs(*args, backend="auto", cost="edit"), want)
    with pytest.raises(RuntimeError, match="greedy_rollout\\(backend='ext'\\)"):
        searnn_ext.rollout_costs(*args, backend="ext", cost="edit")


def test_cuda_emulated_takes_cpu_tensors_only():
    with pytest.raises(ValueError, match="its inputs must be CPU tensors, got cuda"):
        backends.compiled_ops("edit_distance", "cuda_emulated", torch.device("cuda"))
