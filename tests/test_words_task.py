"""The words task: its vocabulary, its documented corruption, its splits and fresh noise, corpus
BLEU against sacrebleu's, and training with sampled tokens and the best-suffix reference from
the command line (BLEU is its cost, corpus BLEU its metric)."""

import json
import logging
import re

import pytest
import torch
from data_files import write_spelling

from searnn_ext import checkpoint
from searnn_ext.cli import main
from searnn_ext.data.words import corrupt_words, load_words, word_vocabulary
from searnn_ext.ngram_costs import corpus_bleu


def test_the_vocabulary_is_the_most_frequent_words_in_first_seen_order():
    sentences = [["b", "a", "c"], ["a", "d", "b"], ["e"]]
    assert word_vocabulary(sentences, 3) == ["b", "a", "c"]  # b, a: twice; c before d and e


@pytest.mark.parametrize("seed", range(20))
def test_the_corruption_as_documented(seed):
    clean = list(range(12))
    assert corrupt_words(clean, 50, 0.0, seed) == clean
    noisy = corrupt_words(clean, 50, 0.3, seed)
    assert noisy == corrupt_words(clean, 50, 0.3, seed)  # reproducible from its seed
    assert 1 <= len(noisy) <= len(clean) and all(0 <= w < 50 for w in noisy)
    assert corrupt_words(clean, 50, 1.0, seed) != clean
    assert len(corrupt_words(clean, 50, 1.0, seed)) == 1  # every word dropped but one
    assert corrupt_words([], 50, 0.5, seed) == []


def test_swaps_exchange_adjacent_pairs():
    """Where nothing was replaced or dropped, the corruption is a set of disjoint adjacent
    swaps: every word moved by at most one place."""
    swapped_only = 0
    for seed in range(200):
        noisy = corrupt_words(list(range(10)), 10**6, 0.05, seed)
        if sorted(noisy) == list(range(10)) and noisy != list(range(10)):
            swapped_only += 1
            assert all(abs(word - place) <= 1 for place, word in enumerate(noisy))
    assert swapped_only >= 10


def test_splits_vocabulary_and_fresh_noise(tmp_path):
    folder = write_spelling(tmp_path / "text", sentences=30)
    data = load_words(folder, valid_size=10, noise=0.5, vocabulary_size=4)
    assert (len(data.train), len(data.valid), len(data.test)) == (50, 10, 30)
    assert data.target_tokens[-2:] == ["<unk>", "</s>"] and len(data.target_tokens) == 6
    assert data.model_options == dict(target_vocab=6, source_vocab=5, eos_id=5)
    # "sentence", "number", ",", "here", "!" each once per sentence: the first four are kept.
    assert data.vocabularies["words"] == ["sentence", "number", ",", "here"]
    assert all(e.target[-1] == 5 for e in data.train)
    again = load_words(folder, valid_size=10, noise=0.5, vocabularies=data.vocabularies)
    assert all(torch.equal(a.source, b.source) for a, b in zip(data.test, again.test, strict=True))
    first, second = data.train_of(1), data.train_of(2)
    assert first is data.train
    assert any(not torch.equal(a.source, b.source) for a, b in zip(first, second, strict=True))
    assert all(torch.equal(a.target, b.target) for a, b in zip(first, second, strict=True))


def test_corpus_bleu_equals_sacrebleus():
    sacrebleu = pytest.importorskip("sacrebleu")
    logging.getLogger("sacrebleu").setLevel(logging.ERROR)
    generator = torch.Generator().manual_seed(0)
    refs = [torch.randint(0, 8, (n,), generator=generator).tolist() for n in range(3, 30)]
    hyps = [r[: len(r) - i % 3] if i % 2 else r[::-1] for i, r in enumerate(refs)]
    text = [[" ".join(map(str, row)) for row in rows] for rows in (hyps, refs)]
    want = sacrebleu.corpus_bleu(text[0], [text[1]], smooth_method="none", tokenize="none")
    assert corpus_bleu(hyps, refs) == pytest.approx(want.score, abs=1e-9)
    assert corpus_bleu([[1, 2]], [[3, 4]]) == 0.0


def test_train_with_sampled_tokens_and_the_best_suffix(tmp_path, capsys):
    folder = write_spelling(tmp_path / "text", sentences=30)
    output = tmp_path / "run"
    command = ["train", "--task=words", f"--data={folder}", "--epochs=1", "--hidden-size=8"]
    options = ["--loss=sll", "--sampling=uniform", "--tokens=3", "--rollout=mixed"]
    assert main([*command, *options, "--reference=best_suffix", f"--output={output}"]) == 0
    out = capsys.readouterr().out
    assert "test corpus BLEU" in out
    state = checkpoint.load(output / "checkpoint.pt")
    assert state["run"]["searnn"]["cost"] == "bleu"  # the task's cost
    assert state["run"]["data_options"]["noise"] == 0.1
    log = [json.loads(line) for line in (output / "metrics.jsonl").open()]
    assert any(entry.get("rollouts", 0) > 0 for entry in log)
    assert main(["evaluate", str(output / "checkpoint.pt")]) == 0
    assert re.fullmatch(
        r"words test error: \d+\.\d\d%\nwords test corpus BLEU: \d+\.\d\d\n",
        capsys.readouterr().out,
    )
