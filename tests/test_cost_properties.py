"""Metric properties of the cost ops on hypothesis-drawn sequences, and agreement with the
oracles and with rapidfuzz (a second, outside oracle)."""

import pytest
import torch
from conftest import BACKENDS
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import hamming, levenshtein
from rapidfuzz.distance import Levenshtein

import searnn_ext

sequences = st.lists(st.integers(0, 3), max_size=140) | st.lists(
    st.integers(-(2**62), 2**62), max_size=70
)


def padded(rows: list[list[int]]):
    width = max((len(r) for r in rows), default=0)
    tokens = torch.tensor([r + [0] * (width - len(r)) for r in rows], dtype=torch.int64)
    return tokens.reshape(len(rows), width), torch.tensor([len(r) for r in rows])


def distances(name, backend, pairs):
    """d(a, b) for each (a, b) in pairs, in one call."""
    hyp, hyp_lengths = padded([a for a, _ in pairs])
    ref, ref_lengths = padded([b for _, b in pairs])
    op = getattr(searnn_ext, name)
    return op(hyp, hyp_lengths, ref, ref_lengths, backend=backend).tolist()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "name, oracle", [("edit_distance", levenshtein), ("hamming_distance", hamming)]
)
@settings(max_examples=60, deadline=None)
@given(x=sequences, y=sequences, z=sequences)
def test_metric_properties(backend, name, oracle, x, y, z):
    xy, yx, yz, xz, xx = distances(name, backend, [(x, y), (y, x), (y, z), (x, z), (x, x)])
    assert xy == oracle(x, y)
    assert xx == 0
    assert xy == yx
    assert xz <= xy + yz
    assert abs(len(x) - len(y)) <= xy <= max(len(x), len(y))


# rapidfuzz compares Python ints by hash(), which wraps at 2**61 - 1 (2**62 "equals" 2 there).
rapidfuzz_sequences = st.lists(st.integers(0, 3), max_size=140) | st.lists(
    st.integers(0, 2**60), max_size=70
)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=60, deadline=None)
@given(x=rapidfuzz_sequences, y=rapidfuzz_sequences)
def test_edit_distance_matches_rapidfuzz_and_is_below_hamming(backend, x, y):
    (edit,) = distances("edit_distance", backend, [(x, y)])
    (ham,) = distances("hamming_distance", backend, [(x, y)])
    assert edit == Levenshtein.distance(x, y)
    assert edit <= ham
