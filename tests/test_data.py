"""Dataset loaders on the real files (when ../shared/data is beside the repository), their
error messages, batching, and the synthetic task."""

from pathlib import Path

import pytest
import torch
from oracles import levenshtein

from searnn_ext import tasks
from searnn_ext.data import batches, collate, load_conll, load_ocr, load_spelling, load_synthetic
from searnn_ext.data.batching import Example
from searnn_ext.data.denoise import INDEL, SYMBOLS, language, load_denoise

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="the shared data folder is absent")


@pytest.fixture(scope="module")
def ocr():
    return load_ocr(DATA / "ocr")


@needs_data
def test_ocr_words_letters_and_folds(ocr):
    words = ocr.train + ocr.valid + ocr.test
    assert len(words) == 6877
    assert sum(len(w.target) for w in words) == 52152
    assert len(ocr.test) == 626  # fold 0
    assert len(ocr.valid) == int(0.1 * (6877 - 626))
    first = ocr.test[0] if ocr.test else words[0]
    assert first.source.shape == (len(first.target), 128)
    assert set(first.source.unique().tolist()) <= {0.0, 1.0}
    assert ocr.model_options == dict(target_vocab=26, source_features=128)
    text = "".join(ocr.target_tokens[i] for i in first.target.tolist())
    assert text == "ommanding"  # the first word of the file, its capital letter missing


@needs_data
def test_ocr_test_fold_is_selectable():
    other = load_ocr(DATA / "ocr", test_fold=3, valid_fraction=0.0)
    assert len(other.test) == 698 and len(other.train) == 6877 - 698 and not other.valid


@needs_data
def test_spelling_examples():
    data = load_spelling(DATA / "text", noise=0.5, limit=3000)
    assert data.model_options == dict(target_vocab=43, source_vocab=42, eos_id=42)
    assert len(data.target_tokens) == 43
    changed = total = 0
    for example in data.train:
        assert example.target[-1] == 42 and len(example.source) == len(example.target) - 1
        assert 1 <= len(example.source) <= 10
        assert example.source.max() < 42
        changed += int((example.source != example.target[:-1]).sum())
        total += len(example.source)
    # Replaced with probability 0.5 by one of 41 symbols, which may be the same one.
    assert changed / total == pytest.approx(0.5 * 40 / 41, abs=0.02)
    first = "".join(data.target_tokens[i] for i in data.test[0].target[:-1].tolist())
    assert first == first.lower() and len(first) == 10


@needs_data
def test_spelling_is_deterministic_per_seed():
    one = load_spelling(DATA / "text", limit=50, seed=1)
    again = load_spelling(DATA / "text", limit=50, seed=1)
    other = load_spelling(DATA / "text", limit=50, seed=2)
    sources = lambda data: torch.cat([e.source for e in data.train])  # noqa: E731
    assert torch.equal(sources(one), sources(again))
    assert not torch.equal(sources(one), sources(other))
    longer = load_spelling(DATA / "text", limit=50, max_length=30)
    assert max(len(e.source) for e in longer.train) == 30


def test_missing_files_are_named(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"letter\.data or letter\.data\.gz"):
        load_ocr(tmp_path)
    with pytest.raises(FileNotFoundError, match="1b_benchmark.dev.tokens.txt"):
        load_spelling(tmp_path)
    monkeypatch.delenv("SEARNN_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="SEARNN_DATA"):
        load_ocr()
    monkeypatch.setenv("SEARNN_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "ocr")):
        load_ocr()
    with pytest.raises(ValueError, match="task must be one of"):
        tasks.task("mnist")


def test_synthetic_task_is_a_reversal_and_deterministic():
    data = load_synthetic(sizes=(30, 5, 5), seed=4)
    again = load_synthetic(sizes=(30, 5, 5), seed=4)
    for a, b in zip(data.train, again.train, strict=True):
        assert torch.equal(a.source, b.source) and torch.equal(a.target, a.source.flip(0))
    assert 3 <= min(len(e.source) for e in data.train)
    assert max(len(e.source) for e in data.train) <= 8
    assert data.model_options == dict(target_vocab=8, source_vocab=8)


def test_collate_pads_and_batches_cover_every_example():
    examples = [
        Example(torch.tensor([1, 2, 3]), torch.tensor([4])),
        Example(torch.tensor([5]), torch.tensor([6, 7])),
    ]
    batch = collate(examples)
    assert batch.src.tolist() == [[1, 2, 3], [5, 0, 0]]
    assert batch.target.tolist() == [[4, 0], [6, 7]]
    assert batch.src_lengths.tolist() == [3, 1] and batch.target_lengths.tolist() == [1, 2]
    data = load_synthetic(sizes=(25, 1, 1))
    seen = [len(b.src) for b in batches(data.train, 10, shuffle=True)]
    assert seen == [10, 10, 5]
    with pytest.raises(ValueError, match="empty"):
        collate([])


def test_token_frequencies_count_training_targets():
    data = load_synthetic(sizes=(40, 1, 1))
    counts = data.token_frequencies()
    assert counts.sum() == sum(len(e.target) for e in data.train)
    assert counts[3] == sum(int((e.target == 3).sum()) for e in data.train)


@needs_data
@needs_data
def test_conll_sentences_dictionary_and_labels(tmp_path):
    data = load_conll(DATA / "conll2000")
    assert len(data.train) + len(data.valid) == 8936 and len(data.test) == 2012
    assert len(data.valid) == 893
    assert sum(len(e.target) for e in data.test) == 47377
    assert len(data.target_tokens) == 22 and "O" in data.target_tokens
    words, tags = data.model_options["source_vocab"]
    assert (
        data.vocabularies["words"][:2] == ["<UNK>", "<NUM>"]
        and len(data.vocabularies["words"]) == words
    )
    assert all(w == w.lower() for w in data.vocabularies["words"][2:])
    example = data.test[0]
    assert example.source.shape == (len(example.target), 2)
    assert example.source[:, 0].max() < words and example.source[:, 1].max() < tags
    # A pretrained embedding file adds its words to the dictionary.
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("zyzzyva 0.5 -0.5\nthe 1.0 2.0\n")
    with_file = load_conll(DATA / "conll2000", embeddings=vectors)
    assert "zyzzyva" in with_file.vocabularies["words"]
    from searnn_ext.data import load_embeddings

    table = load_embeddings(vectors, with_file.vocabularies["words"])
    assert table.shape == (len(with_file.vocabularies["words"]), 2)
    assert table[with_file.vocabularies["words"].index("the")].tolist() == [1.0, 2.0]


def test_denoise_corrupts_sentences_of_its_language_as_documented():
    data = load_denoise(noise=0.3, sizes=(3000, 10, 10))
    again = load_denoise(noise=0.3, sizes=(3000, 10, 10))
    assert all(
        torch.equal(a.source, b.source) for a, b in zip(data.train, again.train, strict=True)
    )
    words, _ = language()
    assert len(words) == 60 and all(
        2 <= len(w) <= 6 and set(w) <= set("abcdefghijkl") for w in words
    )
    eos = data.model_options["eos_id"]
    assert data.model_options == dict(target_vocab=14, source_vocab=13, eos_id=13)
    kept = changed = lengthened = 0
    for example in data.train:
        clean = "".join(SYMBOLS[i] for i in example.target[:-1].tolist())
        assert example.target[-1] == eos and 5 <= len(clean) <= 10
        assert all(w in words for w in clean.split(" ")[:-1] if w)  # the last may be clipped
        noisy = "".join(SYMBOLS[i] for i in example.source.tolist())
        kept += len(clean)
        changed += levenshtein(list(noisy), list(clean))
        lengthened += len(noisy) - len(clean)
    # Per character: 0.05 deleted, 0.95 * 0.3 * 12/13 substituted, 0.05 inserted. The edit
    # distance can only be lower than the count of edits (some cancel out).
    edits = INDEL + (1 - INDEL) * 0.3 * 12 / 13 + INDEL
    assert 0.8 * edits < changed / kept <= edits * 1.02
    assert abs(lengthened / kept) < 0.01  # as many insertions as deletions
