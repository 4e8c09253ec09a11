"""SEARNN's losses against hand-computed values (plain math), finite differences, masking,
tie-breaking, the sampled variants' gradients, and the paper's LL = MLE identity."""

import math

import pytest
import torch
from seq2seq_cases import make_task

import searnn_ext
from searnn_ext.losses import SEARNN_LOSSES, mle_loss, searnn_loss, target_tokens

INF = float("inf")


def one_cell(scores, tokens, costs):
    logits = torch.tensor([[scores]], dtype=torch.float64, requires_grad=True)
    return logits, torch.tensor([[tokens]]), torch.tensor([[costs]], dtype=torch.float64)


def log_sum_exp(values):
    return math.log(sum(math.exp(v) for v in values))


SCORES, COSTS = [0.3, -1.2, 2.0, 0.5], [0.5, 0.25, 1.0, 0.75]  # a* = token 1


@pytest.mark.parametrize(
    "name, want",
    [
        ("ll", log_sum_exp(SCORES) - SCORES[1]),
        (
            "llcas",
            log_sum_exp([s + c - 0.25 for s, c in zip(SCORES, COSTS, strict=True)]) - SCORES[1],
        ),
        ("shl", max(s + c - 0.25 for s, c in zip(SCORES, COSTS, strict=True)) - SCORES[1]),
        ("sll", log_sum_exp(SCORES) - SCORES[1]),
        (
            "sllcas",
            log_sum_exp([s + c - 0.25 for s, c in zip(SCORES, COSTS, strict=True)]) - SCORES[1],
        ),
    ],
)
def test_values_of_one_cell_with_every_token(name, want):
    logits, tokens, costs = one_cell(SCORES, [0, 1, 2, 3], COSTS)
    assert searnn_loss(name, logits, tokens, costs).item() == pytest.approx(want, rel=1e-12)


def test_sampled_losses_use_only_the_candidates():
    logits, tokens, costs = one_cell(SCORES, [3, 1, -1], [0.75, 0.25, INF])
    sampled = [SCORES[3], SCORES[1]]
    assert searnn_loss("sll", logits, tokens, costs).item() == pytest.approx(
        log_sum_exp(sampled) - SCORES[1], rel=1e-12
    )
    assert searnn_loss("sllcas", logits, tokens, costs).item() == pytest.approx(
        log_sum_exp([SCORES[3] + 0.5, SCORES[1]]) - SCORES[1], rel=1e-12
    )
    # LL keeps the full softmax (the paper's "minimum is always sampled" assumption).
    assert searnn_loss("ll", logits, tokens, costs).item() == pytest.approx(
        log_sum_exp(SCORES) - SCORES[1], rel=1e-12
    )


@pytest.mark.parametrize("name", ["sll", "sllcas"])
def test_unsampled_tokens_get_no_gradient(name):
    logits, tokens, costs = one_cell(SCORES, [3, 1, -1], [0.75, 0.25, INF])
    searnn_loss(name, logits, tokens, costs).backward()
    grad = logits.grad[0, 0]
    assert grad[0] == 0 and grad[2] == 0
    assert grad[1] != 0 and grad[3] != 0


@pytest.mark.parametrize("name", ["llcas", "shl"])
def test_full_losses_need_every_token(name):
    logits, tokens, costs = one_cell(SCORES, [3, 1, -1], [0.75, 0.25, INF])
    with pytest.raises(ValueError, match="needs the cost of every token"):
        searnn_loss(name, logits, tokens, costs)


def test_ties_prefer_the_ground_truth_then_the_lowest_id():
    tokens = torch.tensor([[[0, 1, 2, 3], [3, 2, 1, 0]]])
    costs = torch.tensor([[[1.0, 0.0, 0.0, 1.0], [0.5, 0.5, 2.0, 0.5]]])
    assert target_tokens(tokens, costs).tolist() == [[1, 0]]
    assert target_tokens(tokens, costs, torch.tensor([[2, 3]])).tolist() == [[2, 3]]
    assert target_tokens(tokens, costs, torch.tensor([[3, 1]])).tolist() == [[1, 0]]


@pytest.mark.parametrize("name", SEARNN_LOSSES)
def test_cells_without_costs_are_masked_without_nan(name):
    logits = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    tokens = torch.arange(4).expand(2, 3, 4).clone()
    costs = torch.rand(2, 3, 4, dtype=torch.float64)
    costs[0, 2] = INF  # past sequence 0's end
    costs[1, 1:] = INF
    loss = searnn_loss(name, logits, tokens, costs)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    assert (logits.grad[0, 2] == 0).all() and (logits.grad[1, 1:] == 0).all()
    # The masked cells change nothing: the loss equals that of the counted cells alone.
    alone = sum(
        searnn_loss(
            name,
            logits[b : b + 1, t : t + 1],
            tokens[b : b + 1, t : t + 1],
            costs[b : b + 1, t : t + 1],
            reduction="sum",
        )
        for b, t in [(0, 0), (0, 1), (1, 0)]
    )
    assert loss.item() == pytest.approx(alone.item() / 2, rel=1e-12)


@pytest.mark.parametrize("name", SEARNN_LOSSES)
def test_gradients_match_finite_differences(name):
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 3, 5, dtype=torch.float64, generator=generator, requires_grad=True)
    tokens = torch.stack([torch.randperm(5, generator=generator) for _ in range(6)]).view(2, 3, 5)
    costs = torch.rand(2, 3, 5, dtype=torch.float64, generator=generator)
    if name in ("sll", "sllcas"):
        tokens[..., 3:] = -1
    assert torch.autograd.gradcheck(lambda x: searnn_loss(name, x, tokens, costs), (logits,))


@pytest.mark.parametrize("reduction, divisor", [("per_sequence", 2), ("per_cell", 3), ("sum", 1)])
def test_reductions(reduction, divisor):
    logits = torch.randn(2, 2, 3, dtype=torch.float64)
    tokens = torch.arange(3).expand(2, 2, 3).clone()
    costs = torch.rand(2, 2, 3, dtype=torch.float64)
    costs[1, 1] = INF
    total = searnn_loss("ll", logits, tokens, costs, reduction="sum")
    got = searnn_loss("ll", logits, tokens, costs, reduction=reduction)
    assert got.item() == pytest.approx(total.item() / divisor, rel=1e-12)


def test_mle_counts_steps_before_the_target_length():
    logits = torch.randn(2, 3, 4, dtype=torch.float64)
    target = torch.tensor([[1, 2, 3], [0, 1, 9]])
    lengths = torch.tensor([3, 2])
    want = -sum(
        torch.log_softmax(logits[b, t], -1)[target[b, t]].item()
        for b in range(2)
        for t in range(lengths[b])
    )
    assert mle_loss(logits, target, lengths).item() == pytest.approx(want / 2, rel=1e-12)


@pytest.mark.parametrize("config", ["ocr", "chunking"])
def test_ll_with_reference_rollin_and_rollout_is_mle(config):
    """Paper, section 4: with Hamming cost the reference policy is optimal, so a* is always the
    ground truth and LL's gradient is MLE's."""
    task = make_task(config, batch=3, length=5)
    model = task.model.eval()
    memory = model.encode(task.src, task.src_lengths)
    rollin = model.roll_in(memory, task.target, task.target_lengths, policy="reference")
    candidates = torch.arange(5).expand(*rollin.tokens.shape, 5).contiguous()
    costs = searnn_ext.rollout_costs(
        model, rollin, candidates, task.target, task.target_lengths, rollout="reference"
    )
    ll = searnn_loss("ll", rollin.logits, candidates, costs, task.target)
    parameters = list(model.parameters())
    ll_grads = torch.autograd.grad(ll, parameters, allow_unused=True, retain_graph=True)
    mle = mle_loss(rollin.logits, task.target, task.target_lengths)
    mle_grads = torch.autograd.grad(mle, parameters, allow_unused=True)
    assert ll.item() == pytest.approx(mle.item(), rel=1e-12)
    for a, b in zip(ll_grads, mle_grads, strict=True):
        assert (a is None and b is None) or torch.allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("policy", ["learned", "mixed"])
@pytest.mark.parametrize("config", ["chunking", "ocr-2layers", "chunking-lstm"])
def test_ll_with_reference_rollout_is_mle_on_the_rollins_own_prefix(config, policy):
    """With Hamming cost and a reference roll-out, a* is the ground truth after any prefix, so
    LL after a learned or mixed roll-in is the cross-entropy of the ground truth on the
    roll-in's own logits (CoNLL's LL learned/reference row is this loss)."""
    task = make_task(config, batch=4, length=7)
    model = task.model.eval()
    memory = model.encode(task.src, task.src_lengths)
    generator = torch.Generator().manual_seed(3)
    rollin = searnn_ext.roll_in(
        model, memory, task.target, task.target_lengths, policy=policy, generator=generator
    )
    assert bool((rollin.tokens != task.target).any()), "the roll-in never left the truth"
    candidates = torch.arange(5).expand(*rollin.tokens.shape, 5).contiguous()
    costs = searnn_ext.rollout_costs(
        model, rollin, candidates, task.target, task.target_lengths, rollout="reference"
    )
    ll = searnn_loss("ll", rollin.logits, candidates, costs, task.target)
    mle = mle_loss(rollin.logits, task.target, task.target_lengths)
    assert ll.item() == pytest.approx(mle.item(), rel=1e-12)


def test_bad_arguments_are_named():
    logits, tokens, costs = one_cell(SCORES, [0, 1, 2, 3], COSTS)
    with pytest.raises(ValueError, match="name must be one of"):
        searnn_loss("hinge", logits, tokens, costs)
    with pytest.raises(ValueError, match="reduction must be one of"):
        searnn_loss("ll", logits, tokens, costs, reduction="mean")
    with pytest.raises(TypeError, match="candidates must be int64"):
        searnn_loss("ll", logits, tokens.int(), costs)
    with pytest.raises(ValueError, match="costs must have the candidates' shape"):
        searnn_loss("ll", logits, tokens, costs[..., :2])


@pytest.mark.parametrize("name", SEARNN_LOSSES)
@pytest.mark.parametrize(
    "costs",
    [[2.0, 2.0, 2.0, 2.0], [INF, INF, 1.0, INF], [0.0, 1e30, 0.0, 1e30]],
    ids=["all-equal", "all-inf-but-one", "huge"],
)
def test_adversarial_cells_give_finite_losses_and_gradients(name, costs):
    logits, tokens, costs = one_cell([50.0, -50.0, 0.0, 1.0], [0, 1, 2, 3], costs)
    if name in ("llcas", "shl") and torch.isinf(costs).any():
        with pytest.raises(ValueError, match="needs the cost of every token"):
            searnn_loss(name, logits, tokens, costs)
        return
    loss = searnn_loss(name, logits, tokens, costs)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    if torch.isinf(costs).sum() == 3:  # a single usable token: it is the target
        assert target_tokens(tokens, costs).item() == 2
