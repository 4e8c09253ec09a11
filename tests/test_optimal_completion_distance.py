"""optimal_completion_distance on every target (the compiled kernels on the CPU, emulated CUDA
and CUDA, and the pure-PyTorch path): against the closed form on plain-Python DP rows
(tests/oracles.py), the closed form against an enumeration of every completion, edge lengths,
ids, dtypes, layouts and opcheck (bad inputs: tests/test_cost_errors.py)."""

import pytest
import torch
from conftest import BACKENDS, TARGETS
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import (
    best_completion_by_enumeration,
    best_completion_by_formula,
    best_completion_of_row,
    extend_row,
    hamming,
)
from pairs import random_sequences, similar_sequences

import searnn_ext


def closed_form(prefix, candidates, ref, ref_lengths, eos_id) -> list:
    """out[b][t][k] with one plain DP row per prefix, extended by each candidate."""
    out = []
    for b, (tokens, steps) in enumerate(zip(prefix.tolist(), candidates.tolist(), strict=True)):
        reference = ref[b, : ref_lengths[b]].tolist()
        row = list(range(len(reference) + 1))
        out.append([])
        for t, step in enumerate(steps):
            remaining = None if eos_id is not None else max(len(reference) - t - 1, 0)
            out[-1].append(
                [
                    row[-1]
                    if a == eos_id
                    else best_completion_of_row(extend_row(row, a, reference), remaining)
                    for a in step
                ]
            )
            row = extend_row(row, tokens[t], reference)
    return out


def near_prefixes(ref, vocab, steps, generator, rate=0.3):
    """Roll-ins that mostly follow their reference (as in SEARNN) and run past its end."""
    batch = ref.shape[0]
    padded = torch.cat([ref, torch.randint(0, vocab, (batch, steps), generator=generator)], 1)
    return similar_sequences(padded[:, :steps], vocab, rate, generator)


def run(target, prefix, candidates, ref, ref_lengths, eos_id):
    """The op on `target` (its inputs moved there), its result back on the CPU."""
    moved = [target.put(t) for t in (prefix, candidates, ref, ref_lengths)]
    got = searnn_ext.optimal_completion_distance(*moved, eos_id=eos_id, backend=target.backend)
    assert got.dtype == torch.int64 and got.shape == candidates.shape
    assert got.device.type == torch.device(target.device).type
    return got.cpu()


def check(target, prefix, candidates, ref, ref_lengths, eos_id):
    want = closed_form(prefix, candidates, ref, ref_lengths, eos_id)
    assert run(target, prefix, candidates, ref, ref_lengths, eos_id).tolist() == want


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("ref_width", [0, 1, 2, 7, 63, 64, 65, 130])
@pytest.mark.parametrize("vocab", [2, 43, 10**6])
@pytest.mark.parametrize("eos_id", [None, 1])
def test_matches_closed_form(target, ref_width, vocab, eos_id, generator):
    ref, ref_lengths = random_sequences(6, ref_width, vocab, generator)
    steps = ref_width + 3
    prefix = near_prefixes(ref, vocab, steps, generator)
    candidates = torch.randint(0, vocab, (6, steps, 4), generator=generator)
    candidates[:, :, 0] = 1  # the EOS candidate, when eos_id is 1
    check(target, prefix, candidates, ref, ref_lengths, eos_id)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("eos_id", [None, 0])
@pytest.mark.parametrize(
    "batch, steps, width, ref_width", [(0, 3, 2, 4), (3, 0, 2, 4), (3, 4, 0, 4), (3, 4, 2, 0)]
)
def test_empty_dimensions(target, eos_id, batch, steps, width, ref_width, generator):
    prefix = torch.randint(0, 3, (batch, steps), generator=generator)
    candidates = torch.randint(0, 3, (batch, steps, width), generator=generator)
    ref = torch.randint(0, 3, (batch, ref_width), generator=generator)
    ref_lengths = torch.full((batch,), ref_width)
    check(target, prefix, candidates, ref, ref_lengths, eos_id)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("eos_id", [None, 9])
def test_references_of_length_zero_and_one(target, eos_id):
    """An empty reference: every token is an insertion. One symbol: it is matched or not."""
    prefix = torch.tensor([[4, 4, 5], [5, 4, 4], [4, 5, 6]])
    candidates = torch.tensor([[4, 5, 9]]).expand(3, 3, 3)
    ref = torch.tensor([[4, 7], [4, 7], [5, 7]])
    ref_lengths = torch.tensor([0, 1, 1])
    got = run(target, prefix, candidates, ref, ref_lengths, eos_id)
    ends = eos_id is not None  # candidate 9 is EOS: the prefix alone, one token shorter
    assert got[0].tolist() == [
        [1, 1, 0 if ends else 1],
        [2, 2, 1 if ends else 2],
        [3, 3, 2 if ends else 3],
    ]
    # ref [4]: the empty prefix then 4 matches; then 5 is one edit away whatever follows.
    assert got[1, 0].tolist() == [0, 1, 1]
    assert got[1, 1, 0].item() == 1
    check(target, prefix, candidates, ref, ref_lengths, eos_id)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("eos_id", [None, 0])
def test_following_the_reference_costs_nothing(target, eos_id, generator):
    """Prefix = the reference's first t tokens and candidate = its next: cost 0, and copying the
    rest of the reference is one of the completions weighed."""
    ref, ref_lengths = random_sequences(20, 70, 5, generator, min_length=1)
    ref = ref + 1  # id 0 is left to EOS
    got = run(target, ref, ref[:, :, None], ref, ref_lengths, eos_id)
    inside = torch.arange(70) < ref_lengths[:, None]
    assert (got[:, :, 0][inside] == 0).all()
    assert (got[:, :, 0][~inside] > 0).all()  # past the reference's end, a token is one too many


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(
    "low, high", [(-(2**62), 2**62), (-(2**40), -(2**40) + 5), (2**31 - 3, 2**31 + 3)]
)
@pytest.mark.parametrize("eos_id", [None, "low"])
def test_ids_are_compared_by_equality_only(target, low, high, eos_id, generator):
    eos_id = low if eos_id == "low" else None
    ref = torch.randint(low, high, (5, 66), generator=generator)
    ref_lengths = torch.randint(0, 67, (5,), generator=generator)
    prefix = torch.where(
        torch.rand((5, 68), generator=generator) < 0.6,
        torch.cat([ref, ref[:, :2]], 1),
        torch.randint(low, high, (5, 68), generator=generator),
    )
    candidates = torch.randint(low, high, (5, 68, 3), generator=generator)
    check(target, prefix, candidates, ref, ref_lengths, eos_id)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtypes", [(torch.int32,) * 3, (torch.int32, torch.int64, torch.int32)])
def test_int32_inputs(target, dtypes, generator):
    ref, ref_lengths = random_sequences(7, 20, 6, generator)
    prefix = near_prefixes(ref, 6, 22, generator)
    candidates = torch.randint(0, 6, (7, 22, 5), generator=generator)
    prefix, candidates, ref = (
        t.to(d) for t, d in zip((prefix, candidates, ref), dtypes, strict=True)
    )
    check(target, prefix, candidates, ref, ref_lengths.int(), 3)


@pytest.mark.parametrize("target", TARGETS)
def test_non_contiguous_inputs(target, generator):
    prefix = torch.randint(0, 4, (30, 8), generator=generator).t()  # [8, 30], column-major
    candidates = torch.randint(0, 4, (8, 30, 6), generator=generator)[:, :, ::2]
    ref = torch.randint(0, 4, (8, 140), generator=generator)[:, ::2]  # [8, 70], strided
    ref_lengths = torch.randint(0, 71, (8, 2), generator=generator)[:, 1]
    assert not any(t.is_contiguous() for t in (prefix, candidates, ref, ref_lengths))
    check(target, prefix, candidates, ref, ref_lengths, 2)


@pytest.mark.parametrize("target", TARGETS)
def test_more_reference_words_than_one_block_of_threads(target, generator):
    """40 references of up to 520 symbols: 360 (reference, word) match tables, more than one
    256-thread block."""
    ref, ref_lengths = random_sequences(40, 520, 43, generator, min_length=450)
    prefix = near_prefixes(ref, 43, 3, generator)
    candidates = torch.randint(0, 43, (40, 3, 2), generator=generator)
    check(target, prefix, candidates, ref, ref_lengths, None)


@pytest.mark.parametrize("target", TARGETS)
def test_large_batch_crosses_thread_chunks(target, generator):
    """The Spelling shape (all 43 tokens), then more sequences than one 256-thread block holds,
    so that the per-sequence launch needs a second block."""
    ref, ref_lengths = random_sequences(128, 10, 43, generator, min_length=1)
    prefix = near_prefixes(ref, 43, 11, generator)
    check(target, prefix, torch.arange(43).expand(128, 11, 43), ref, ref_lengths, 0)
    ref, ref_lengths = random_sequences(300, 10, 43, generator, min_length=1)
    prefix = near_prefixes(ref, 43, 11, generator)
    candidates = torch.randint(0, 43, (300, 11, 3), generator=generator)
    check(target, prefix, candidates, ref, ref_lengths, 0)


def test_every_backend_gives_the_same_answer(generator):
    ref, ref_lengths = random_sequences(9, 70, 5, generator)
    prefix = near_prefixes(ref, 5, 72, generator)
    candidates = torch.randint(0, 5, (9, 72, 3), generator=generator)
    results = [
        searnn_ext.optimal_completion_distance(
            prefix, candidates, ref, ref_lengths, eos_id=None, backend=backend
        )
        for backend in ("auto", *BACKENDS)
    ]
    assert all(torch.equal(results[0], r) for r in results[1:])


@pytest.mark.parametrize("namespace", ["searnn", "searnn_emulated"])
@pytest.mark.parametrize("eos_id", [None, 0])
@pytest.mark.parametrize("ref_width", [5, 70])
def test_opcheck(namespace, eos_id, ref_width, generator):
    ref, ref_lengths = random_sequences(4, ref_width, 4, generator)
    prefix = near_prefixes(ref, 4, 6, generator)
    candidates = torch.randint(0, 4, (4, 6, 3), generator=generator)
    torch.library.opcheck(
        getattr(torch.ops, namespace).optimal_completion_distance,
        (prefix, candidates, ref, ref_lengths, eos_id),
    )


# The closed form itself, against every completion (oracle against oracle: it justifies using
# the closed form as the oracle above, on sequences too long to enumerate).
small_sequences = st.lists(st.integers(0, 2), max_size=5)


@settings(max_examples=200, deadline=None)
@given(sequence=small_sequences, reference=small_sequences, remaining=st.integers(0, 4))
def test_closed_form_is_the_best_enumerated_completion(sequence, reference, remaining):
    alphabet = [0, 1, 2]
    assert best_completion_by_formula(sequence, reference, None) == best_completion_by_enumeration(
        sequence, reference, alphabet, None
    )
    assert best_completion_by_formula(
        sequence, reference, remaining
    ) == best_completion_by_enumeration(sequence, reference, alphabet, remaining)


@settings(max_examples=100, deadline=None)
@given(sequence=small_sequences, reference=small_sequences)
def test_copying_is_the_best_completion_for_hamming(sequence, reference):
    """Why reference="optimal" with the Hamming cost is reference="copy": no completion of
    either length rule beats copying the rest of the reference."""
    import itertools

    copy = sequence + reference[len(sequence) :]
    for length in range(len(reference) + 1):
        for completion in itertools.product([0, 1, 2], repeat=length):
            assert hamming(copy, reference) <= hamming(sequence + list(completion), reference)


@pytest.mark.parametrize("target", TARGETS)
@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.lists(st.integers(-3, 3), max_size=9), st.lists(st.integers(-3, 3))),
        min_size=1,
        max_size=4,
    ),
    eos_id=st.none() | st.integers(-3, 3),
)
def test_hypothesis_drawn_batches(target, rows, eos_id):
    """Roll-ins [B, T] and references of any lengths, candidates from the same small ids."""
    steps = max(len(p) for p, _ in rows)
    width = max((len(r) for _, r in rows), default=0)
    prefix = torch.tensor([p + [0] * (steps - len(p)) for p, _ in rows], dtype=torch.int64).reshape(
        len(rows), steps
    )
    ref = torch.tensor([r + [5] * (width - len(r)) for _, r in rows], dtype=torch.int64).reshape(
        len(rows), width
    )
    ref_lengths = torch.tensor([len(r) for _, r in rows])
    candidates = torch.arange(-3, 4).expand(len(rows), steps, 7)
    check(target, prefix, candidates, ref, ref_lengths, eos_id)


def test_unknown_backend():
    prefix = torch.zeros((2, 3), dtype=torch.int64)
    with pytest.raises(ValueError, match="backend must be one of"):
        searnn_ext.optimal_completion_distance(
            prefix, prefix[..., None], prefix, torch.tensor([3, 0]), eos_id=0, backend="gpu"
        )
