"""edit_distance and hamming_distance against the plain-Python oracles, on every target: the
compiled kernels on the CPU, emulated CUDA and CUDA, and the pure-PyTorch path."""

import pytest
import torch
from conftest import TARGETS, needs_gpu
from oracles import hamming, levenshtein, pairwise
from pairs import random_sequences, similar_sequences

import searnn_ext

OPS = [
    pytest.param(searnn_ext.edit_distance, levenshtein, id="edit_distance"),
    pytest.param(searnn_ext.hamming_distance, hamming, id="hamming_distance"),
]


def check_against_oracle(op, oracle, target, hyp, hyp_lengths, ref, ref_lengths, ref_index=None):
    expected = pairwise(oracle, hyp, hyp_lengths, ref, ref_lengths, ref_index)
    moved = [target.put(t) for t in (hyp, hyp_lengths, ref, ref_lengths, ref_index)]
    result = op(*moved, backend=target.backend)
    assert result.dtype == torch.int64
    assert result.device.type == torch.device(target.device).type
    assert result.shape == (hyp.shape[0],)
    assert result.cpu().tolist() == expected


@pytest.mark.parametrize("op, oracle", OPS)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("max_length", [0, 1, 2, 7, 63, 64, 65, 130])
@pytest.mark.parametrize("vocab", [2, 43, 10**6])
def test_random_pairs_match_oracle(op, oracle, target, max_length, vocab, generator):
    count = 40
    ref, ref_lengths = random_sequences(count, max_length, vocab, generator)
    hyp, hyp_lengths = random_sequences(count, max_length, vocab, generator)
    check_against_oracle(op, oracle, target, hyp, hyp_lengths, ref, ref_lengths)


@pytest.mark.parametrize("op, oracle", OPS)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("max_length", [30, 64, 65, 200])
@pytest.mark.parametrize("rate", [0.05, 0.3])
def test_near_copies_share_references(op, oracle, target, max_length, rate, generator):
    """The SEARNN shape: many hypotheses per reference row (ref_index), close to it."""
    refs, ref_lengths = random_sequences(6, max_length, 43, generator, min_length=max_length // 2)
    ref_index = torch.arange(6).repeat_interleave(9)
    ref_index = torch.cat([ref_index, torch.randint(0, 6, (20,), generator=generator)])
    hyp = similar_sequences(refs[ref_index], 43, rate, generator)
    shift = torch.randint(-2, 3, ref_index.shape, generator=generator)
    hyp_lengths = (ref_lengths[ref_index] + shift).clamp(0, max_length)
    check_against_oracle(op, oracle, target, hyp, hyp_lengths, refs, ref_lengths, ref_index)


@pytest.mark.parametrize("op, oracle", OPS)
@pytest.mark.parametrize("target", TARGETS)
def test_more_reference_words_than_one_block_of_threads(op, oracle, target, generator):
    """40 references of up to 520 symbols: 360 (reference, word) match tables on the GPU, more
    than one 256-thread block, so that the tables' launch needs a second block."""
    ref, ref_lengths = random_sequences(40, 520, 43, generator, min_length=450)
    hyp, hyp_lengths = random_sequences(40, 12, 43, generator)
    check_against_oracle(op, oracle, target, hyp, hyp_lengths, ref, ref_lengths)


@pytest.mark.parametrize("op, oracle", OPS)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(
    "hyp_length, ref_length",
    [
        (0, 0),
        (0, 5),
        (5, 0),
        (1, 1),
        (63, 64),
        (64, 64),
        (64, 65),
        (65, 1),
        (0, 130),
        (130, 0),
        (128, 129),
        (200, 199),
    ],
)
def test_edge_lengths(op, oracle, target, hyp_length, ref_length, generator):
    hyp = torch.randint(0, 3, (8, hyp_length), generator=generator)
    ref = torch.randint(0, 3, (8, ref_length), generator=generator)
    hyp_lengths = torch.full((8,), hyp_length)
    ref_lengths = torch.full((8,), ref_length)
    check_against_oracle(op, oracle, target, hyp, hyp_lengths, ref, ref_lengths)


@pytest.mark.parametrize("op, oracle", OPS)
@pytest.mark.parametrize("target", TARGETS)
def test_equal_references_in_different_rows(op, oracle, target, generator):
    """Consecutive pairs whose references are different rows with the same content, then the
    same row again after another one: any per-reference caching must key on the row."""
    base = torch.randint(0, 5, (1, 70), generator=generator)
    other = torch.randint(0, 5, (1, 70), generator=generator)
    ref = torch.cat([base, base, other, base])
    ref_lengths = torch.tensor([70, 40, 70, 70])
    ref_index = torch.tensor([0, 1, 1, 2, 0, 3, 1, 0])
    hyp = torch.randint(0, 5, (8, 70), generator=generator)
    hyp_lengths = torch.randint(0, 71, (8,), generator=generator)
    check_against_oracle(op, oracle, target, hyp, hyp_lengths, ref, ref_lengths, ref_index)


@pytest.mark.parametrize("op, oracle", OPS)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("low, high", [(-(2**40), 2**40), (2**31 - 3, 2**31 + 3), (250, 262)])
def test_ids_are_compared_by_equality_only(op, oracle, target, low, high, generator):
    """Huge, negative and near-boundary ids (the CPU table has a direct range below 256)."""
    hyp = torch.randint(low, high, (30, 70), generator=generator)
    ref = torch.randint(low, high, (30, 70), generator=generator)
    lengths = torch.randint(0, 71, (2, 30), generator=generator)
    check_against_oracle(op, oracle, target, hyp, lengths[0], ref, lengths[1])


@pytest.mark.parametrize("op, oracle", OPS)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("hyp_dtype", [torch.int32, torch.int64])
@pytest.mark.parametrize("ref_dtype", [torch.int32, torch.int64])
def test_int32_and_int64_inputs(op, oracle, target, hyp_dtype, ref_dtype, generator):
    ref, ref_lengths = random_sequences(25, 66, 10, generator)
    hyp, hyp_lengths = random_sequences(25, 66, 10, generator)
    ref_index = torch.randint(0, 25, (25,), generator=generator, dtype=hyp_dtype)
    check_against_oracle(
        op,
        oracle,
        target,
        hyp.to(hyp_dtype),
        hyp_lengths.to(ref_dtype),
        ref.to(ref_dtype),
        ref_lengths.to(hyp_dtype),
        ref_index,
    )


@pytest.mark.parametrize("op, oracle", OPS)
@pytest.mark.parametrize("target", TARGETS)
def test_non_contiguous_inputs(op, oracle, target, generator):
    hyp_t = torch.randint(0, 4, (70, 30), generator=generator).t()  # [30, 70], column-major
    ref_wide = torch.randint(0, 4, (30, 140), generator=generator)
    ref = ref_wide[:, ::2]  # [30, 70], strided columns
    lengths = torch.randint(0, 71, (30, 2), generator=generator)
    hyp_lengths, ref_lengths = lengths[:, 0], lengths[:, 1]  # strided
    ref_index = torch.randint(0, 30, (60,), generator=generator)[::2]
    assert not (hyp_t.is_contiguous() or ref.is_contiguous() or hyp_lengths.is_contiguous())
    check_against_oracle(op, oracle, target, hyp_t, hyp_lengths, ref, ref_lengths, ref_index)


@pytest.mark.parametrize("op, oracle", OPS)
@pytest.mark.parametrize("target", TARGETS)
def test_large_batch_crosses_thread_chunks(op, oracle, target, generator):
    ref, ref_lengths = random_sequences(64, 30, 43, generator, min_length=1)
    ref_index = torch.randint(0, 64, (6000,), generator=generator)
    hyp = similar_sequences(ref[ref_index], 43, 0.2, generator)
    check_against_oracle(
        op, oracle, target, hyp, ref_lengths[ref_index], ref, ref_lengths, ref_index
    )


@pytest.mark.parametrize("op, oracle", OPS)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("with_index", [False, True])
def test_empty_batch_gives_empty_result(op, oracle, target, with_index):
    hyp = torch.zeros((0, 5), dtype=torch.int64)
    lengths = torch.zeros(0, dtype=torch.int64)
    ref = torch.ones((3 if with_index else 0, 5), dtype=torch.int64)
    ref_lengths = torch.full((ref.shape[0],), 5)
    ref_index = lengths if with_index else None
    moved = [target.put(t) for t in (hyp, lengths, ref, ref_lengths, ref_index)]
    result = op(*moved, backend=target.backend)
    assert result.shape == (0,) and result.dtype == torch.int64


@pytest.mark.parametrize("op, oracle", OPS)
def test_auto_backend_matches_oracle(op, oracle, generator):
    ref, ref_lengths = random_sequences(50, 70, 5, generator)
    hyp, hyp_lengths = random_sequences(50, 70, 5, generator)
    result = op(hyp, hyp_lengths, ref, ref_lengths, backend="auto")
    assert result.tolist() == pairwise(oracle, hyp, hyp_lengths, ref, ref_lengths)


NAMESPACES = [
    pytest.param("searnn", "cpu", id="searnn-cpu"),
    pytest.param("searnn_emulated", "cpu", id="searnn_emulated-cpu"),
    pytest.param("searnn", "cuda", id="searnn-cuda", marks=[pytest.mark.cuda, needs_gpu]),
]


@pytest.mark.parametrize("op, oracle", OPS)
@pytest.mark.parametrize("namespace, device", NAMESPACES)
def test_registered_ops_match_oracle(op, oracle, namespace, device, generator):
    """torch.ops.* called directly, as torch.compile'd code calls them."""
    ref, ref_lengths = random_sequences(20, 70, 5, generator)
    hyp, hyp_lengths = random_sequences(20, 70, 5, generator)
    ref_index = torch.randint(0, 20, (20,), generator=generator)
    registered = getattr(getattr(torch.ops, namespace), op.__name__)
    inputs = [t.to(device) for t in (hyp, hyp_lengths, ref, ref_lengths, ref_index)]
    result = registered(*inputs)
    assert result.cpu().tolist() == pairwise(oracle, hyp, hyp_lengths, ref, ref_lengths, ref_index)


@pytest.mark.parametrize("op_name", ["edit_distance", "hamming_distance"])
@pytest.mark.parametrize("namespace, device", NAMESPACES)
@pytest.mark.parametrize("with_index", [False, True])
@pytest.mark.parametrize("max_length", [5, 70])
def test_opcheck(op_name, namespace, device, with_index, max_length, generator):
    ref, ref_lengths = random_sequences(6, max_length, 4, generator)
    hyp, hyp_lengths = random_sequences(6, max_length, 4, generator)
    ref_index = torch.randint(0, 6, (6,), generator=generator) if with_index else None
    inputs = [None if t is None else t.to(device) for t in (hyp, hyp_lengths, ref, ref_lengths)]
    index = None if ref_index is None else ref_index.to(device)
    torch.library.opcheck(getattr(getattr(torch.ops, namespace), op_name), (*inputs, index))
