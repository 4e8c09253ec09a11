"""Chunk extraction and F1 as conlleval computes them, on hand-worked examples."""

import pytest

from searnn_ext.chunks import chunk_f1, chunks


@pytest.mark.parametrize(
    "tags, want",
    [
        (["B-NP", "I-NP", "O", "B-VP"], {(0, 2, "NP"), (3, 4, "VP")}),
        (["I-NP", "I-NP", "B-NP"], {(0, 2, "NP"), (2, 3, "NP")}),  # I- without B- starts one
        (["B-NP", "I-VP", "I-VP"], {(0, 1, "NP"), (1, 3, "VP")}),  # a type change starts one
        (["O", "O"], set()),
        ([], set()),
        (["B-PP", "B-PP"], {(0, 1, "PP"), (1, 2, "PP")}),
    ],
)
def test_chunks(tags, want):
    assert chunks(tags) == want


def test_chunk_f1():
    truth = [["B-NP", "I-NP", "O", "B-VP"], ["B-PP"]]
    guess = [["B-NP", "I-NP", "O", "B-NP"], ["O"]]
    # 1 hit of 2 guessed and 3 wanted: P = 1/2, R = 1/3, F1 = 2PR / (P + R) = 0.4.
    assert chunk_f1(guess, truth) == pytest.approx(40.0)
    assert chunk_f1(truth, truth) == pytest.approx(100.0)
    assert chunk_f1([["O"]], [["B-NP"]]) == 0.0
