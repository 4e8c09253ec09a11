"""Independent oracles: the costs in plain Python, one pair at a time, written from the textbook
definitions and sharing nothing with the package; and greedy decoding one token at a time
through nothing but the model's step."""

import math

import torch


def levenshtein(a: list[int], b: list[int]) -> int:
    """Wagner-Fischer dynamic programme with unit costs."""
    return levenshtein_row(a, b)[-1]


def levenshtein_row(a: list[int], b: list[int]) -> list[int]:
    """[levenshtein(a, b[:j]) for j in 0..len(b)]: the last row of the DP table."""
    row = list(range(len(b) + 1))
    for x in a:
        row = extend_row(row, x, b)
    return row


def extend_row(previous: list[int], x: int, b: list[int]) -> list[int]:
    """The DP row of a + [x] against b from the row of a."""
    current = [previous[0] + 1]
    for j, y in enumerate(b, start=1):
        current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
    return current


def best_completion_by_enumeration(
    sequence: list[int], reference: list[int], alphabet: list[int], remaining: int | None
) -> int:
    """min levenshtein(sequence + s, reference) over every completion s over `alphabet` (which
    must hold the reference's symbols): of exactly `remaining` tokens, or of any length when
    `remaining` is None. Then lengths up to len(reference) suffice: s = reference scores at most
    len(sequence), and any s longer than the reference at least len(sequence) + 1. Each
    completion is scored by extending the DP row of its parent, a depth-first walk."""
    longest = len(reference) if remaining is None else remaining
    best = None

    def visit(row: list[int], depth: int) -> None:
        nonlocal best
        if remaining is None or depth == remaining:
            best = row[-1] if best is None else min(best, row[-1])
        if depth < longest:
            for symbol in alphabet:
                visit(extend_row(row, symbol, reference), depth + 1)

    visit(levenshtein_row(sequence, reference), 0)
    return best


def best_completion_by_formula(
    sequence: list[int], reference: list[int], remaining: int | None
) -> int:
    """Issue 16's closed form: min_j ED(x, r[:j]) (+ |n - (|r| - j)| with n tokens remaining)."""
    return best_completion_of_row(levenshtein_row(sequence, reference), remaining)


def best_completion_of_row(row: list[int], remaining: int | None) -> int:
    """The closed form from x's DP row against r (row[j] = ED(x, r[:j]), len(r) = len(row) - 1)."""
    if remaining is None:
        return min(row)
    return min(d + abs(remaining - (len(row) - 1 - j)) for j, d in enumerate(row))


def hamming(a: list[int], b: list[int]) -> int:
    """Mismatches over the common length plus the length difference."""
    return sum(x != y for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b))


def unpadded(tokens, lengths) -> list[list[int]]:
    """Rows of a padded [N, L] tensor cut to their lengths, as Python lists."""
    return [row[:length] for row, length in zip(tokens.tolist(), lengths.tolist(), strict=True)]


def pairwise(oracle, hyp, hyp_lengths, ref, ref_lengths, ref_index=None) -> list[int]:
    hyps = unpadded(hyp, hyp_lengths)
    refs = unpadded(ref, ref_lengths)
    index = range(len(hyps)) if ref_index is None else ref_index.tolist()
    return [oracle(h, refs[r]) for h, r in zip(hyps, index, strict=True)]


def plain_greedy(model, example, width):
    """One sequence decoded token by token through model.step (EOS excluded)."""
    memory = model.encode(example.source[None], torch.tensor([len(example.source)]))
    state, prev, out = model.initial_state(memory), torch.tensor([model.bos_id]), []
    for _ in range(width):
        logits, state = model.step(prev, state, memory)
        prev = logits.argmax(-1)
        if model.eos_id is not None and prev.item() == model.eos_id:
            break
        out.append(prev.item())
    return out


def ngrams(tokens: list[int], n: int) -> dict[tuple, int]:
    counts: dict[tuple, int] = {}
    for i in range(len(tokens) - n + 1):
        gram = tuple(tokens[i : i + n])
        counts[gram] = counts.get(gram, 0) + 1
    return counts


def clipped_matches(hyp: list[int], ref: list[int], n: int) -> int:
    theirs = ngrams(ref, n)
    return sum(min(count, theirs.get(gram, 0)) for gram, count in ngrams(hyp, n).items())


def sentence_bleu(hyp: list[int], ref: list[int]) -> float:
    """BLEU-4 with add-one smoothing of the 2..4-gram precisions (Lin and Och 2004)."""
    if not hyp or clipped_matches(hyp, ref, 1) == 0:
        return 0.0
    log_sum = math.log(clipped_matches(hyp, ref, 1) / len(hyp))
    for n in range(2, 5):
        grams = max(len(hyp) - n + 1, 0)
        log_sum += math.log((clipped_matches(hyp, ref, n) + 1) / (grams + 1))
    brevity = min(1.0, math.exp(1 - len(ref) / len(hyp)))
    return brevity * math.exp(log_sum / 4)


def sentence_gleu(hyp: list[int], ref: list[int]) -> float:
    """GLEU (Wu et al. 2016): 1..4-gram matches over the larger of the two n-gram totals."""
    matches = sum(clipped_matches(hyp, ref, n) for n in range(1, 5))
    hyp_total = sum(max(len(hyp) - n + 1, 0) for n in range(1, 5))
    ref_total = sum(max(len(ref) - n + 1, 0) for n in range(1, 5))
    if hyp_total == 0 or ref_total == 0:
        return 0.0
    return min(matches / hyp_total, matches / ref_total)
