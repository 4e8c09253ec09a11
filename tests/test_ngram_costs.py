"""BLEU and GLEU costs against plain-Python oracles written from their definitions: random
batches with shared references, empty sequences, lengths 1 to 200, repeated n-grams (a small
alphabet), and roll-outs scored with them."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import sentence_bleu, sentence_gleu
from seq2seq_cases import every_token, make_task

import searnn_ext

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


@pytest.mark.parametrize("name", ["bleu", "gleu"])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_costs_equal_the_oracle_on_random_pairs(name, data):
    refs = data.draw(st.lists(sequences, min_size=1, max_size=4))
    hyps = data.draw(st.lists(sequences, max_size=8))
    ref_index = data.draw(
        st.lists(st.integers(0, len(refs) - 1), min_size=len(hyps), max_size=len(hyps))
    )
    hyp, hyp_lengths = padded(hyps)
    ref, ref_lengths = padded(refs)
    got = OPS[name](hyp, hyp_lengths, ref, ref_lengths, torch.tensor(ref_index, dtype=torch.long))
    assert got.dtype == torch.float32 and got.shape == (len(hyps),)
    torch.testing.assert_close(
        got, expected(name, hyps, refs, ref_index).float(), rtol=0, atol=1e-6
    )
    assert bool(((got >= 0) & (got <= 1)).all())


@pytest.mark.parametrize("name", ["bleu", "gleu"])
def test_long_sequences_and_the_edges(name):
    generator = torch.Generator().manual_seed(0)
    lengths = [0, 1, 2, 3, 4, 5, 63, 64, 65, 120, 200]
    refs = [torch.randint(0, 6, (n,), generator=generator).tolist() for n in lengths]
    hyps = [r[: len(r) // 2] + r[len(r) // 2 :][::-1] for r in refs]  # shares its first half
    hyps += [[], refs[-1], refs[4] * 3]
    ref_index = list(range(len(refs))) + [3, len(refs) - 1, 4]
    hyp, hyp_lengths = padded(hyps)
    ref, ref_lengths = padded(refs)
    got = OPS[name](hyp, hyp_lengths, ref, ref_lengths, torch.tensor(ref_index))
    torch.testing.assert_close(
        got, expected(name, hyps, refs, ref_index).float(), rtol=0, atol=1e-6
    )
    assert float(got[len(refs) + 1]) == pytest.approx(0.0, abs=1e-6)  # the reference itself


def test_the_compiled_backends_are_refused_naming_the_pure_pytorch_path():
    hyp, lengths = padded([[1, 2]])
    with pytest.raises(RuntimeError, match="backend='auto' or 'torch'"):
        searnn_ext.bleu_cost(hyp, lengths, hyp, lengths, backend="ext")
    with pytest.raises(TypeError, match="hyp_lengths"):
        searnn_ext.gleu_cost(hyp, lengths.float(), hyp, lengths)


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
