"""Candidate sampling and cell subsampling (paper, section 5)."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from searnn_ext.sampling import STRATEGIES, sample_candidates, subsample_cells

SAMPLED = [s for s in STRATEGIES if s != "all"]


def problem(batch=3, steps=4, vocab=9, seed=0):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, steps, vocab, generator=generator)
    truth = torch.randint(0, vocab, (batch, steps), generator=generator)
    truth[0, -1] = -1  # a cell past the target
    return logits, truth


def draw(strategy, logits, truth, seed=0, **options):
    frequencies = torch.arange(1, logits.shape[-1] + 1).double()
    return sample_candidates(
        strategy,
        logits,
        truth,
        frequencies=frequencies,
        generator=torch.Generator().manual_seed(seed),
        **options,
    )


@settings(max_examples=40, deadline=None)
@given(
    strategy=st.sampled_from(SAMPLED),
    tokens=st.integers(1, 9),
    seed=st.integers(0, 2**31),
)
def test_distinct_candidates_with_the_ground_truth(strategy, tokens, seed):
    logits, truth = problem(seed=seed % 1000)
    candidates = draw(strategy, logits, truth, seed, tokens=tokens)
    assert candidates.shape == (3, 4, tokens) and candidates.dtype == torch.int64
    assert ((candidates >= 0) & (candidates < 9)).all()
    for cell in candidates.flatten(0, 1):
        assert len(set(cell.tolist())) == tokens
    has_truth = truth >= 0
    assert (candidates == truth[..., None]).any(-1)[has_truth].all()


def test_all_is_every_token():
    logits, truth = problem()
    assert torch.equal(draw("all", logits, truth)[1, 2], torch.arange(9))


def test_topk_takes_the_best_scores_beside_the_ground_truth():
    logits = torch.tensor([[[0.0, 5.0, 1.0, 4.0, -2.0]]])
    assert draw("topk", logits, torch.tensor([[4]]), tokens=3).tolist() == [[[4, 1, 3]]]
    assert draw("topk", logits, torch.tensor([[3]]), tokens=3).tolist() == [[[3, 1, 2]]]


@pytest.mark.parametrize(
    "strategy, favoured", [("stat", 8), ("pol", 2), ("bias", 2), ("uniform", None)]
)
def test_draws_follow_their_distribution(strategy, favoured):
    """Token 8 is the most frequent corpus token, token 2 the policy's favourite; uniform has no
    favourite. Counted over many cells, excluding the ground truth (token 0)."""
    cells = 4000
    logits = torch.zeros(1, cells, 9)
    logits[..., 2] = 3.0
    truth = torch.zeros(1, cells, dtype=torch.long)
    counts = torch.bincount(draw(strategy, logits, truth, tokens=2)[..., 1].flatten(), minlength=9)
    shares = counts[1:].double() / cells
    if favoured is None:
        assert shares.max() < 1 / 8 + 0.03 and shares.min() > 1 / 8 - 0.03
    else:
        assert shares.argmax().item() + 1 == favoured
    if strategy == "bias":  # flatter than the policy itself
        pol = torch.bincount(draw("pol", logits, truth, tokens=2)[..., 1].flatten(), minlength=9)
        assert counts[2] < pol[2]


def test_a_seeded_generator_reproduces_the_draws():
    logits, truth = problem()
    assert torch.equal(draw("pol", logits, truth, 5), draw("pol", logits, truth, 5))
    assert not torch.equal(draw("pol", logits, truth, 5), draw("pol", logits, truth, 6))


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(strategy="best"), "strategy must be one of"),
        (dict(tokens=0), r"tokens must lie in \[1, 9\]"),
        (dict(tokens=10), r"tokens must lie in \[1, 9\]"),
        (dict(strategy="stat", frequencies=torch.ones(3)), "needs frequencies of shape"),
        (dict(strategy="stat", frequencies=-torch.ones(9)), "frequencies must be >= 0"),
        (dict(strategy="bias", bias_temperature=0.0), "bias_temperature must be positive"),
        (dict(ground_truth=torch.zeros(3, 2)), "ground_truth must have shape"),
    ],
)
def test_bad_arguments_are_named(options, message):
    logits, truth = problem()
    arguments = dict(strategy="uniform", logits=logits, ground_truth=truth) | options
    with pytest.raises(ValueError, match=message):
        sample_candidates(**arguments)


@settings(max_examples=40, deadline=None)
@given(cells=st.one_of(st.integers(1, 8), st.floats(0.01, 1.0)), seed=st.integers(0, 2**31))
def test_subsampled_cells(cells, seed):
    candidates = torch.arange(3).expand(4, 6, 3).contiguous()
    lengths = torch.tensor([6, 3, 1, 0])
    kept = subsample_cells(
        candidates, lengths, cells, generator=torch.Generator().manual_seed(seed)
    )
    alive = (kept >= 0).all(-1)
    assert ((kept >= 0).all(-1) | (kept == -1).all(-1)).all()  # whole cells kept or dropped
    for b, length in enumerate(lengths.tolist()):
        want = min(cells, length) if isinstance(cells, int) else -(-length * cells // 1)
        assert alive[b].sum().item() == int(want)
        assert not alive[b, length:].any()


def test_subsampling_is_uniform_over_steps():
    candidates = torch.zeros(2000, 5, 1, dtype=torch.long)
    kept = subsample_cells(candidates, torch.full((2000,), 5), 2)
    shares = (kept[..., 0] >= 0).double().mean(0)
    assert torch.allclose(shares, torch.full((5,), 0.4, dtype=torch.float64), atol=0.04)


@pytest.mark.parametrize("cells, error", [(0, ValueError), (1.5, ValueError), ("2", TypeError)])
def test_bad_cell_counts(cells, error):
    with pytest.raises(error, match="cells"):
        subsample_cells(torch.zeros(1, 2, 1, dtype=torch.long), torch.tensor([2]), cells)
