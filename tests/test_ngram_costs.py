"""BLEU and GLEU costs against plain-Python oracles written from their definitions, on every
target (the compiled kernels on the CPU, emulated CUDA and CUDA, and the pure-PyTorch path):
random batches with shared references, empty sequences, lengths 1 to 200, repeated n-grams (a
small alphabet), large vocabularies, real sentences (when ../shared/data is beside the
repository); opcheck of the registered ops; roll-outs scored with them."""

import logging
from pathlib import Path

import pytest
import torch
from conftest import TARGETS, needs_gpu
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import sentence_bleu, sentence_gleu
from pairs import random_sequences, similar_sequences
from seq2seq_cases import every_token, make_task

import searnn_ext
from searnn_ext.data.words import load_words

ORACLES = {"bleu": sentence_bleu, "gleu": sentence_gleu}
OPS = {"bleu": searnn_ext.bleu_cost, "gleu": searnn_ext.gleu_cost}


def padded(sequences: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max((len(s) for s in sequences), default=0)
    tokens = torch.full((len(sequences), width), 7)  # padding that could match: ignored
    for row, sequence in enumerate(sequences):
        tokens[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
    return tokens, torch.tensor([len(s) for s in sequences], dtype=torch.long)


def expected(name, hyps, refs, ref_index) -> torch.Tensor:
    oracle = ORACLES[name]
    return torch.tensor([1 - oracle(h, refs[i]) for h, i in zip(hyps, ref_index, strict=True)])


sequences = st.lists(st.integers(0, 3), max_size=12)  # four symbols: n-grams repeat


def check(name, target, hyps, refs, ref_index):
    """The op on `target` equals the oracle on these pairs (lists of token lists)."""
    hyp, hyp_lengths = padded(hyps)
    ref, ref_lengths = padded(refs)
    index = torch.tensor(ref_index, dtype=torch.long)
    moved = [target.put(t) for t in (hyp, hyp_lengths, ref, ref_lengths, index)]
    got = OPS[name](*moved, backend=target.backend)
    assert got.dtype == torch.float32 and got.shape == (len(hyps),)
    assert got.device.type == torch.device(target.device).type
    want = expected(name, hyps, refs, ref_index).float()
    torch.testing.assert_close(got.cpu(), want, rtol=0, atol=1e-6)
    return got.cpu()


@pytest.mark.parametrize("name", ["bleu", "gleu"])
@pytest.mark.parametrize("target", TARGETS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_costs_equal_the_oracle_on_random_pairs(name, target, data):
    refs = data.draw(st.lists(sequences, min_size=1, max_size=4))
    hyps = data.draw(st.lists(sequences, max_size=8))
    ref_index = data.draw(
        st.lists(st.integers(0, len(refs) - 1), min_size=len(hyps), max_size=len(hyps))
    )
    got = check(name, target, hyps, refs, ref_index)
    assert bool(((got >= 0) & (got <= 1)).all())


@pytest.mark.parametrize("name", ["bleu", "gleu"])
@pytest.mark.parametrize("target", TARGETS)
def test_long_sequences_and_the_edges(name, target):
    generator = torch.Generator().manual_seed(0)
    lengths = [0, 1, 2, 3, 4, 5, 63, 64, 65, 120, 200]
    refs = [torch.randint(0, 6, (n,), generator=generator).tolist() for n in lengths]
    hyps = [r[: len(r) // 2] + r[len(r) // 2 :][::-1] for r in refs]  # shares its first half
    hyps += [[], refs[-1], refs[4] * 3]
    ref_index = list(range(len(refs))) + [3, len(refs) - 1, 4]
    got = check(name, target, hyps, refs, ref_index)
    assert float(got[len(refs) + 1]) == pytest.approx(0.0, abs=1e-6)  # the reference itself


@pytest.mark.parametrize("name", ["bleu", "gleu"])
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("vocab", [3, 5000, 10**6])
def test_near_copies_share_references(name, target, vocab, generator):
    """The SEARNN shape: many hypotheses per reference row, close to it, lengths 5 to 30."""
    refs, ref_lengths = random_sequences(6, 30, vocab, generator, min_length=5)
    ref_index = torch.arange(6).repeat_interleave(8)
    hyp = similar_sequences(refs[ref_index], vocab, 0.2, generator)
    shift = torch.randint(-3, 4, ref_index.shape, generator=generator)
    hyp_lengths = (ref_lengths[ref_index] + shift).clamp(0, 30)
    as_lists = [r[:n].tolist() for r, n in zip(refs, ref_lengths, strict=True)]
    hyps = [h[:n].tolist() for h, n in zip(hyp, hyp_lengths, strict=True)]
    check(name, target, hyps, as_lists, ref_index.tolist())


NAMESPACES = [
    pytest.param("searnn", "cpu", id="searnn-cpu"),
    pytest.param("searnn_emulated", "cpu", id="searnn_emulated-cpu"),
    pytest.param("searnn", "cuda", id="searnn-cuda", marks=[pytest.mark.cuda, needs_gpu]),
]


@pytest.mark.parametrize("op_name", ["bleu_cost", "gleu_cost"])
@pytest.mark.parametrize("namespace, device", NAMESPACES)
@pytest.mark.parametrize("with_index", [False, True])
def test_opcheck(op_name, namespace, device, with_index, generator):
    ref, ref_lengths = random_sequences(6, 20, 4, generator)
    hyp, hyp_lengths = random_sequences(6, 20, 4, generator)
    ref_index = torch.randint(0, 6, (6,), generator=generator).to(device) if with_index else None
    inputs = [t.to(device) for t in (hyp, hyp_lengths, ref, ref_lengths)]
    torch.library.opcheck(getattr(getattr(torch.ops, namespace), op_name), (*inputs, ref_index))


@pytest.mark.parametrize("name", ["bleu", "gleu"])
def test_roll_outs_scored_by_bleu_and_the_best_suffix(name):
    task = make_task("spelling", seed=6)
    rollin, candidates = every_token(task)
    arguments = (task.model, rollin, candidates, task.target, task.target_lengths)
    costs = searnn_ext.rollout_costs(
        *arguments, rollout="reference", reference="best_suffix", cost=name, normalize=True
    )
    copy = searnn_ext.rollout_costs(*arguments, rollout="reference", cost=name)
    finite = torch.isfinite(copy)
    assert torch.equal(finite, torch.isfinite(costs))
    assert bool((costs[finite] <= copy[finite] + 1e-6).all())  # never worse than the copy
    assert bool(((costs[finite] >= 0) & (costs[finite] <= 1)).all())  # not normalised again


def test_bleu_equals_sacrebleu_with_the_same_definition(generator):
    """sacrebleu's sentence BLEU with add-one smoothing of the 2- to 4-grams (its 'add-k', k = 1),
    no effective order and whitespace tokens is this BLEU."""
    sacrebleu = pytest.importorskip("sacrebleu")
    logging.getLogger("sacrebleu").setLevel(logging.ERROR)  # a warning per call otherwise
    refs, ref_lengths = random_sequences(8, 30, 20, generator)
    ref_index = torch.arange(8).repeat_interleave(6)
    hyp = similar_sequences(refs[ref_index], 20, 0.3, generator)
    hyp_lengths = (ref_lengths[ref_index] + torch.randint(-3, 4, (48,), generator=generator)).clamp(
        0, 30
    )
    got = searnn_ext.bleu_cost(hyp, hyp_lengths, refs, ref_lengths, ref_index)
    options = dict(
        smooth_method="add-k", smooth_value=1, use_effective_order=False, tokenize="none"
    )
    words = [" ".join(map(str, row[:n].tolist())) for row, n in zip(hyp, hyp_lengths, strict=True)]
    ref_words = [" ".join(map(str, r[:n].tolist())) for r, n in zip(refs, ref_lengths, strict=True)]
    want = [
        1 - sacrebleu.sentence_bleu(text, [ref_words[i]], **options).score / 100
        for text, i in zip(words, ref_index.tolist(), strict=True)
    ]
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float32), rtol=0, atol=1e-6)


REAL_TEXT = Path(__file__).resolve().parents[2] / "shared" / "data" / "text"


@pytest.mark.skipif(not REAL_TEXT.is_dir(), reason="the shared data folder is absent")
@pytest.mark.parametrize("name", ["bleu", "gleu"])
@pytest.mark.parametrize("target", TARGETS)
def test_real_text_pairs_equal_the_oracle(name, target):
    """The words task's real sentences: each corrupted source against its clean sentence."""
    data = load_words(REAL_TEXT, limit=200, valid_size=10)
    hyps = [e.source.tolist() for e in data.test]
    refs = [e.target[:-1].tolist() for e in data.test]
    check(name, target, hyps, refs, list(range(len(refs))))
