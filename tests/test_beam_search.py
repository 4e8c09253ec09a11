"""Beam search against an exhaustive search over every output sequence (a beam as wide as the
number of sequences keeps them all), and beam 1 against greedy decoding."""

import itertools

import pytest
import torch
from conftest import TARGETS, needs_gpu
from oracles import levenshtein

from searnn_ext import Seq2Seq
from searnn_ext.beam import beam_search
from searnn_ext.data.batching import Example
from searnn_ext.evaluation import error_rate, greedy_outputs


def small_model(eos_id, vocab=3, seed=0):
    torch.manual_seed(seed)
    model = Seq2Seq(target_vocab=vocab, source_vocab=5, hidden_size=8, eos_id=eos_id).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4.0)  # peaked distributions, so that greedy and best differ
    return model


def log_prob(model, memory, row, sequence):
    """Teacher-forced log-probability of `sequence` for batch row `row`, one step at a time."""
    one = memory.select(torch.tensor([row]))
    state, prev, total = model.initial_state(one), torch.tensor([model.bos_id]), 0.0
    for token in sequence:
        logits, state = model.step(prev, state, one)
        total += torch.log_softmax(logits.double(), -1)[0, token].item()
        prev = torch.tensor([token])
    return total


def best_by_enumeration(model, src, src_lengths, width):
    memory = model.encode(src, src_lengths)
    results = []
    for row in range(src.shape[0]):
        if model.eos_id is None:
            length = min(int(src_lengths[row]), width)
            candidates = itertools.product(range(model.target_vocab), repeat=length)
        else:  # sequences ended by their first EOS, or running the full width
            words = [
                w
                for n in range(width + 1)
                for w in itertools.product(range(model.target_vocab), repeat=n)
                if model.eos_id not in w[:-1] and (n == width or w[-1:] == (model.eos_id,))
            ]
            candidates = words
        results.append(max(candidates, key=lambda w: log_prob(model, memory, row, w)))
    return results


def strip(tokens, lengths):
    return [tuple(row[:n]) for row, n in zip(tokens.tolist(), lengths.tolist(), strict=True)]


@pytest.mark.parametrize("eos_id", [None, 2], ids=["fixed-length", "eos"])
@pytest.mark.parametrize("seed", range(4))
def test_a_full_beam_finds_the_most_probable_sequence(eos_id, seed):
    model = small_model(eos_id, seed=seed)
    src = torch.randint(0, 5, (3, 4), generator=torch.Generator().manual_seed(seed))
    src_lengths = torch.tensor([4, 2, 1])
    width = 4
    tokens, lengths = beam_search(model, src, src_lengths, width, beam=3**width)
    want = best_by_enumeration(model, src, src_lengths, width)
    got = strip(tokens, lengths)
    if eos_id is not None:  # the decoded EOS is part of the scored sequence
        got = [w + ((eos_id,) if len(w) < width else ()) for w in got]
    assert got == want


DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, needs_gpu])]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("eos_id", [None, 2], ids=["fixed-length", "eos"])
def test_beam_one_is_greedy(device, eos_id):
    model = small_model(eos_id, vocab=7, seed=3).to(device)
    src = torch.randint(0, 5, (16, 9), generator=torch.Generator().manual_seed(1)).to(device)
    src_lengths = torch.randint(1, 10, (16,), generator=torch.Generator().manual_seed(2))
    src_lengths = src_lengths.to(device)
    greedy = greedy_outputs(model, src, src_lengths, 9)
    beam = beam_search(model, src, src_lengths, 9, beam=1)
    assert strip(*beam) == strip(*greedy)


@pytest.mark.parametrize("target", TARGETS)
def test_error_rate_of_a_beam_scores_its_outputs(target):
    """error_rate(beam=3) on every target: the edit distance of beam_search's outputs, counted
    by the plain-Python oracle."""
    model = small_model(2, vocab=5, seed=1)
    generator = torch.Generator().manual_seed(4)
    examples = [
        Example(
            torch.randint(0, 5, (n,), generator=generator),
            torch.cat([torch.randint(3, 5, (n,), generator=generator), torch.tensor([2])]),
        )
        for n in (1, 3, 4, 2, 4)
    ]
    distance = total = 0
    for example in examples:
        src, reference = example.source[None], example.target[:-1].tolist()
        tokens, lengths = beam_search(model, src, torch.tensor([len(example.source)]), 10, 3)
        distance += levenshtein(strip(tokens, lengths)[0], reference)
        total += len(reference)
    got = error_rate(
        target.put(model),
        examples,
        cost="edit",
        beam=3,
        max_length=10,
        device=target.device,
        backend=target.backend,
    )
    assert got == pytest.approx(100 * distance / total)


def test_a_beam_must_be_positive():
    model = small_model(None)
    with pytest.raises(ValueError, match="beam must be positive"):
        beam_search(model, torch.zeros((1, 2), dtype=torch.long), torch.tensor([2]), 2, beam=0)
