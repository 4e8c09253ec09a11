"""BLEU and GLEU costs of padded token batches, on the pure-PyTorch path: 1 - sentence BLEU-4
(Lin and Och 2004's add-one smoothing of the 2- to 4-gram precisions) and 1 - GLEU (Wu et al.
2016), float32 [N] in [0, 1]. The n-gram counts are exact integers: each distinct hypothesis
n-gram is counted once, at its first occurrence, by comparing every pair of positions (O(L^2)
per pair and order, in chunks of rows to bound memory)."""

from __future__ import annotations

import math
from collections import Counter

import torch
from torch import Tensor

from searnn_ext import torch_path

MAX_ORDER = 4
ROWS_PER_CHUNK = 4096  # bounds the [rows, Lh, Lr] comparison tensors


def bleu_cost(
    hyp: Tensor, hyp_lengths: Tensor, ref: Tensor, ref_lengths: Tensor, ref_index: Tensor | None
) -> Tensor:
    """1 - BLEU-4 per pair: p_1 = m_1 / c_1, p_n = (m_n + 1) / (c_n + 1) for n > 1 (m_n the
    clipped n-gram matches, c_n the hypothesis's n-grams), brevity penalty
    min(1, exp(1 - |r| / |h|)), BLEU = 0 for an empty hypothesis or m_1 = 0."""
    matches, hyp_grams, _, hyp_len, ref_len = _counts(
        "bleu_cost", hyp, hyp_lengths, ref, ref_lengths, ref_index
    )
    precisions = (matches + 1) / (hyp_grams + 1)
    precisions[:, 0] = matches[:, 0] / hyp_grams[:, 0].clamp(min=1)
    scored = (hyp_len > 0) & (matches[:, 0] > 0)
    log_mean = precisions.clamp(min=1e-300).log().mean(dim=1)
    brevity = torch.exp((1 - ref_len / hyp_len.clamp(min=1)).clamp(max=0))
    bleu = torch.where(scored, brevity * log_mean.exp(), torch.zeros_like(log_mean))
    return (1 - bleu).float()


def gleu_cost(
    hyp: Tensor, hyp_lengths: Tensor, ref: Tensor, ref_lengths: Tensor, ref_index: Tensor | None
) -> Tensor:
    """1 - GLEU per pair: matches over all 1- to 4-grams, GLEU = min(matches / the hypothesis's
    n-grams, matches / the reference's), 0 for an empty hypothesis (or reference)."""
    matches, hyp_grams, ref_grams, _, _ = _counts(
        "gleu_cost", hyp, hyp_lengths, ref, ref_lengths, ref_index
    )
    total, hyp_total, ref_total = matches.sum(1), hyp_grams.sum(1), ref_grams.sum(1)
    recall = total / ref_total.clamp(min=1)
    precision = total / hyp_total.clamp(min=1)
    gleu = torch.where((hyp_total > 0) & (ref_total > 0), torch.minimum(precision, recall), 0.0)
    return (1 - gleu).float()


def _counts(op, hyp, hyp_lengths, ref, ref_lengths, ref_index):
    """Per pair, float64: matches m_n [N, 4], hypothesis n-grams c_n [N, 4], reference n-grams
    r_n [N, 4], and the hypothesis's and reference's lengths [N]."""
    torch_path.check_pair_inputs(op, hyp, hyp_lengths, ref, ref_lengths, ref_index)
    ref, ref_lengths = torch_path._paired_refs(ref, ref_lengths, ref_index)
    hyp_lengths = hyp_lengths.long()
    rows = hyp.shape[0]
    matches = torch.zeros((rows, MAX_ORDER), dtype=torch.float64, device=hyp.device)
    for start in range(0, rows, ROWS_PER_CHUNK):
        here = slice(start, start + ROWS_PER_CHUNK)
        matches[here] = _clipped_matches(hyp[here], hyp_lengths[here], ref[here], ref_lengths[here])
    orders = torch.arange(1, MAX_ORDER + 1, device=hyp.device)
    hyp_grams = (hyp_lengths[:, None] - orders + 1).clamp(min=0).double()
    ref_grams = (ref_lengths[:, None] - orders + 1).clamp(min=0).double()
    return matches, hyp_grams, ref_grams, hyp_lengths.double(), ref_lengths.double()


def _clipped_matches(hyp, hyp_lengths, ref, ref_lengths) -> Tensor:
    """sum over distinct hypothesis n-grams g of min(count in hyp, count in ref), [rows, 4]."""
    hyp_width = int(hyp_lengths.max()) if hyp_lengths.numel() else 0
    ref_width = int(ref_lengths.max()) if ref_lengths.numel() else 0
    hyp, ref = hyp[:, :hyp_width].long(), ref[:, :ref_width].long()
    within_hyp = hyp[:, :, None] == hyp[:, None, :]  # [rows, Lh, Lh]
    across = hyp[:, :, None] == ref[:, None, :]  # [rows, Lh, Lr]
    hyp_positions = torch.arange(hyp_width, device=hyp.device)
    ref_positions = torch.arange(ref_width, device=hyp.device)
    earlier = hyp_positions[None, :] < hyp_positions[:, None]  # [i, j]: j < i
    result = torch.zeros((hyp.shape[0], MAX_ORDER), dtype=torch.float64, device=hyp.device)
    same_hyp, same_ref = within_hyp, across
    for n in range(1, MAX_ORDER + 1):
        if n > 1:  # an n-gram matches where its (n-1)-gram and its last token do
            same_hyp = same_hyp[:, :-1, :-1] & within_hyp[:, n - 1 :, n - 1 :]
            same_ref = same_ref[:, :-1, :-1] & across[:, n - 1 :, n - 1 :]
        grams_h = hyp_width - n + 1
        if grams_h <= 0:
            break
        valid_h = hyp_positions[:grams_h][None, :] <= (hyp_lengths - n)[:, None]
        valid_r = ref_positions[: max(ref_width - n + 1, 0)][None, :] <= (ref_lengths - n)[:, None]
        in_hyp = (same_hyp & valid_h[:, None, :]).sum(-1)
        in_ref = (same_ref & valid_r[:, None, :]).sum(-1)
        seen_before = (same_hyp & valid_h[:, None, :] & earlier[:grams_h, :grams_h]).any(-1)
        first = valid_h & ~seen_before
        result[:, n - 1] = (torch.minimum(in_hyp, in_ref) * first).sum(-1).double()
    return result


def corpus_bleu(predicted: list[list[int]], reference: list[list[int]]) -> float:
    """Corpus BLEU-4 (Papineni et al. 2002), in %: clipped n-gram matches and the outputs'
    n-grams summed over the corpus for n = 1..4, no smoothing, brevity penalty
    exp(1 - total reference length / total output length) when the outputs are shorter; 0 when
    some order has no match."""
    matches, totals = [0] * MAX_ORDER, [0] * MAX_ORDER
    for guess, truth in zip(predicted, reference, strict=True):
        for n in range(1, MAX_ORDER + 1):
            grams, wanted = _ngrams(guess, n), _ngrams(truth, n)
            matches[n - 1] += sum(min(count, wanted[gram]) for gram, count in grams.items())
            totals[n - 1] += max(len(guess) - n + 1, 0)
    if min(matches) == 0:
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals, strict=True)) / MAX_ORDER
    output, wanted_length = sum(map(len, predicted)), sum(map(len, reference))
    brevity = math.exp(min(0.0, 1 - wanted_length / output))
    return 100.0 * brevity * math.exp(log_precision)


def _ngrams(tokens: list[int], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
