"""Independent oracles: the costs in plain Python, one pair at a time, written from the textbook
definitions and sharing nothing with the package; and greedy decoding one token at a time
through nothing but the model's step."""

import torch


def levenshtein(a: list[int], b: list[int]) -> int:
    """Wagner-Fischer dynamic programme with unit costs."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


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
