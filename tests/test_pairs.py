"""Your own data: the pairs task on small TSV folders written here, from the loader's
vocabularies and errors to training, evaluate and predict from the checkpoint alone."""

import re

import pytest
import torch
from oracles import hamming, levenshtein

from searnn_ext.cli import main
from searnn_ext.data.pairs import load_pairs
from searnn_ext.data.text import DataError


def write(folder, **files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.tsv").write_text(text)
    return folder


def test_chars_vocabularies_eos_and_unknown_tokens(tmp_path):
    folder = write(tmp_path, train="ab\tba\ncab\tbac\n\n", test="az\tzq\n")
    data = load_pairs(folder, valid_fraction=0.5)
    assert data.vocabularies == dict(
        source=["<unk>", "a", "b", "c"], target=["a", "b", "c", "</s>"]
    )
    assert data.model_options == dict(target_vocab=4, source_vocab=4, eos_id=3)
    assert len(data.train) == 1 and len(data.valid) == 1  # the blank line is skipped
    example = data.test[0]
    assert example.source.tolist() == [1, 0]  # "z" is unknown: <unk>
    # Unknown target tokens can never be predicted: an id no output equals, then EOS.
    assert example.target.tolist() == [-1, -1, 3]


def test_words_and_a_validation_file(tmp_path):
    folder = write(
        tmp_path,
        train="the cat  sat\tle chat\n",
        valid="the dog\tle chien\n",
        test="a cat\tun chat\n",
    )
    data = load_pairs(folder, units="words")
    assert data.vocabularies["source"] == ["<unk>", "cat", "sat", "the"]
    assert data.target_tokens == ["chat", "le", "</s>"]
    assert len(data.train) == len(data.valid) == 1
    assert data.valid[0].target.tolist() == [1, -1, 2]


@pytest.mark.parametrize(
    "train, message",
    [
        ("ab\tba\nab ba\n", "train.tsv:2: expected 'source<TAB>target', found no tab"),
        ("ab\tb\ta\n", "train.tsv:1: expected 'source<TAB>target', found 2 tabs"),
        ("ab\tba\n\tba\n", "train.tsv:2: the source is empty"),
        ("ab\t\n", "train.tsv:1: the target is empty"),
        ("", "train.tsv: no examples: the file is empty"),
        ("\n  \n", "train.tsv: no examples: the file is empty"),
    ],
)
def test_malformed_files_are_named_with_their_line(tmp_path, train, message):
    write(tmp_path, train=train, test="a\tb\n")
    with pytest.raises(DataError, match=re.escape(message)):
        load_pairs(tmp_path)


def test_words_need_words(tmp_path):
    write(tmp_path, train="a b\tc\n   \tc\n", test="a\tc\n")
    with pytest.raises(DataError, match=r"train.tsv:2: the source is empty"):
        load_pairs(tmp_path, units="words")


def test_bytes_that_are_not_utf8_and_missing_files(tmp_path):
    write(tmp_path, train="ab\tba\n", test="a\tb\n")
    (tmp_path / "test.tsv").write_bytes(b"ok\tok\nbad \xff\tx\n")
    with pytest.raises(DataError, match=r"test.tsv:2: not UTF-8 text \(byte 0xff at column 5\)"):
        load_pairs(tmp_path)
    (tmp_path / "test.tsv").unlink()
    with pytest.raises(FileNotFoundError, match="the pairs task needs test.tsv in"):
        load_pairs(tmp_path)


def test_cli_data_errors_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SEARNN_DATA", raising=False)
    assert main(["train", "--task=pairs", f"--output={tmp_path / 'run'}"]) == 2
    assert "no path for the pairs task: pass one, or set SEARNN_DATA" in capsys.readouterr().err
    folder = write(tmp_path / "data", train="ab\tba\nab ba\n", test="a\tb\n")
    code = main(["train", "--task=pairs", f"--data={folder}", f"--output={tmp_path / 'run'}"])
    assert code == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"searnn train: {folder / 'train.tsv'}:2: expected 'source<TAB>target', found no tab\n"
    )


def swapped(text: str) -> str:
    """The task learnt below: swap each pair of neighbouring characters."""
    return "".join(text[i + 1 : i + 2] + text[i] for i in range(0, len(text), 2))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A pairs model trained briefly on character swaps (its outputs need not be right: the
    tests compare evaluate with predict, not with the truth)."""
    root = tmp_path_factory.mktemp("pairs")
    draw = torch.Generator().manual_seed(0)

    def lines(count):
        texts = [
            "".join("abcde"[i] for i in torch.randint(0, 5, (int(n),), generator=draw))
            for n in torch.randint(2, 7, (count,), generator=draw)
        ]
        return "".join(f"{t}\t{swapped(t)}\n" for t in texts)

    # A test target with a character training never shows: never predicted, always an error.
    folder = write(root / "data", train=lines(96), test=lines(23) + "abz\tbaz\n")
    output = root / "run"
    command = ["train", "--task=pairs", f"--data={folder}", f"--output={output}", "--quiet"]
    assert main([*command, "--hidden-size=24", "--epochs=2", "--batch-size=16"]) == 0
    return folder, output / "checkpoint.pt"


def printed_error(capsys, command) -> float:
    assert main(command) == 0
    return float(re.fullmatch(r"pairs test error: (\d+\.\d\d)%\n", capsys.readouterr().out)[1])


@pytest.mark.parametrize("beam", [1, 3])
def test_predict_output_scores_what_evaluate_reports(trained, tmp_path, capsys, beam):
    folder, checkpoint_path = trained
    capsys.readouterr()
    reported = printed_error(capsys, ["evaluate", str(checkpoint_path), f"--beam={beam}"])
    test = folder / "test.tsv"
    assert main(["predict", str(checkpoint_path), f"--input={test}", f"--beam={beam}"]) == 0
    predictions = capsys.readouterr().out.split("\n")[:-1]
    pairs = [line.split("\t") for line in test.read_text().splitlines()]
    assert len(predictions) == len(pairs)
    distance = sum(
        levenshtein(list(p), list(t)) for p, (_, t) in zip(predictions, pairs, strict=True)
    )
    total = sum(len(t) for _, t in pairs)
    assert reported == round(100 * distance / total, 2)


def test_predict_reads_stdin_and_the_checkpoint_alone(trained, tmp_path, monkeypatch, capsys):
    folder, checkpoint_path = trained
    sources = tmp_path / "sources.txt"
    sources.write_text("".join(line.split("\t")[0] + "\n" for line in (folder / "test.tsv").open()))
    assert main(["predict", str(checkpoint_path), f"--input={folder / 'test.tsv'}"]) == 0
    expected = capsys.readouterr().out
    away = folder.rename(tmp_path / "away")  # predict needs the checkpoint only
    try:
        for option in ([], ["--input=-"]):
            monkeypatch.setattr("sys.stdin", sources.open())
            assert main(["predict", str(checkpoint_path), *option]) == 0
            assert capsys.readouterr().out == expected
    finally:
        away.rename(folder)
    (tmp_path / "bad.txt").write_text("ab\n\nba\n")
    assert main(["predict", str(checkpoint_path), f"--input={tmp_path / 'bad.txt'}"]) == 2
    assert capsys.readouterr().err.endswith("bad.txt:2: an empty source\n")


def test_hamming_cost_and_words_end_to_end(tmp_path, capsys):
    sentences = ["the cat sat", "a dog ran", "the dog sat", "a cat ran"] * 6
    train = "".join(f"{s}\t{' '.join(reversed(s.split()))}\n" for s in sentences)
    folder = write(tmp_path / "data", train=train, test=train[: train.index("\n") + 1] * 3)
    output = tmp_path / "run"
    command = ["train", "--task=pairs", f"--data={folder}", f"--output={output}", "--quiet"]
    command += ["--units=words", "--cost=hamming", "--hidden-size=16", "--epochs=2"]
    assert main(command) == 0
    reported = printed_error(capsys, ["evaluate", str(output / "checkpoint.pt")])
    assert main(["predict", str(output / "checkpoint.pt"), f"--input={folder / 'test.tsv'}"]) == 0
    predictions = capsys.readouterr().out.splitlines()
    truth = ["sat cat the"] * 3
    distance = sum(hamming(p.split(), t.split()) for p, t in zip(predictions, truth, strict=True))
    assert reported == round(100 * distance / 9, 2)
