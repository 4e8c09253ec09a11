"""Data errors are one message naming the file and the line: truncated or corrupt gzip, bytes
that are not UTF-8, empty files, malformed lines, a split without examples; on the command line,
one line and exit status 2."""

import gzip
import re

import pytest
from data_files import write_conll, write_ocr, write_spelling

from searnn_ext.cli import main
from searnn_ext.data import load_conll, load_embeddings, load_ocr, load_spelling
from searnn_ext.data.text import DataError


def gzipped(folder):
    """letter.data compressed, the plain file removed; returns the .gz path."""
    plain = folder / "letter.data"
    packed = folder / "letter.data.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    return packed


def test_a_truncated_gzip_names_the_file_and_line(tmp_path):
    packed = gzipped(write_ocr(tmp_path))
    assert len(load_ocr(tmp_path).train) > 0  # whole, it reads
    packed.write_bytes(packed.read_bytes()[: packed.stat().st_size // 2])
    with pytest.raises(
        DataError, match=rf"{re.escape(str(packed))}:\d+: truncated or corrupt gzip"
    ):
        load_ocr(tmp_path)


def test_corrupt_gzip(tmp_path):
    packed = gzipped(write_ocr(tmp_path))
    data = bytearray(packed.read_bytes())
    data[20:40] = bytes(20)
    packed.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"letter.data.gz:\d+: truncated or corrupt gzip"):
        load_ocr(tmp_path)
    packed.write_bytes(b"not gzip at all\n")
    with pytest.raises(DataError, match=r"letter.data.gz:1: truncated or corrupt gzip"):
        load_ocr(tmp_path)


def test_ocr_lines(tmp_path):
    file = write_ocr(tmp_path) / "letter.data"
    lines = file.read_text().splitlines()

    def fails(text, message):
        file.write_text(text)
        with pytest.raises(DataError, match=message):
            load_ocr(tmp_path)

    fails(
        "\n".join([*lines[:3], "1 a -1", *lines[3:]]) + "\n",
        r"letter.data:4: expected 134 fields, got 3",
    )
    bad_letter = lines[1].split(" ")
    bad_letter[1] = "A"
    fails(
        "\n".join([lines[0], " ".join(bad_letter)]) + "\n",
        r"letter.data:2: the letter field is 'A', not a-z",
    )
    bad_pixel = lines[0].split(" ")
    bad_pixel[40] = "x"
    fails(" ".join(bad_pixel) + "\n", r"letter.data:1: the pixels: 'x' is not a finite number")
    fails("", r"letter.data: no letters: the file is empty")
    unfinished = [line for line in lines if line.split()[2] != "-1"][:1]
    fails("\n".join(unfinished) + "\n", r"letter.data: the last word does not end")
    in_fold_3 = [line for line in lines if line.split()[5] == "3"]
    fails(
        "\n".join(in_fold_3) + "\n",
        r"letter.data: no word is in fold 0: the test split would be empty",
    )


def test_text_that_is_not_utf8(tmp_path):
    write_conll(tmp_path)
    (tmp_path / "test.txt").write_bytes(b"He PRP B-NP\nr\xe9ckons VBZ B-VP\n")
    with pytest.raises(DataError, match=r"test.txt:2: not UTF-8 text \(byte 0xe9 at column 2\)"):
        load_conll(tmp_path)


def test_conll_and_embedding_lines(tmp_path):
    write_conll(tmp_path)
    (tmp_path / "train.txt").write_text("He PRP B-NP\nreckons VBZ\n")
    with pytest.raises(DataError, match=r"train.txt:2: expected 'word POS chunk'"):
        load_conll(tmp_path)
    (tmp_path / "train.txt").write_text("\n\n")
    with pytest.raises(DataError, match=r"train.txt: no sentences: the file is empty"):
        load_conll(tmp_path)
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("the 1.0 2.0\ncat 1.0 x\n")
    with pytest.raises(DataError, match=r"vectors.txt:2: the vector of 'cat': 'x' is not a finite"):
        load_embeddings(vectors, ["the"])
    vectors.write_text("the 1.0 2.0\ncat 1.0\n")
    with pytest.raises(DataError, match=r"vectors.txt:2: 1 numbers, where earlier lines have 2"):
        load_embeddings(vectors, ["the"])


def test_an_empty_spelling_file(tmp_path):
    write_spelling(tmp_path)
    (tmp_path / "1b_benchmark.dev.tokens.txt").write_text("\n")
    with pytest.raises(DataError, match=r"1b_benchmark.dev.tokens.txt: no sentences"):
        load_spelling(tmp_path)


def test_the_command_line_says_it_in_one_line(tmp_path, capsys):
    packed = gzipped(write_ocr(tmp_path / "ocr"))
    packed.write_bytes(packed.read_bytes()[:-30])
    command = ["train", "--task=ocr", f"--data={tmp_path / 'ocr'}", f"--output={tmp_path / 'run'}"]
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert re.fullmatch(
        rf"searnn train: {re.escape(str(packed))}:\d+: truncated or corrupt gzip .*\n", err
    )
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def test_an_empty_split_is_an_error_not_a_zero_error(tmp_path, capsys):
    folder = tmp_path / "pairs"
    folder.mkdir()
    (folder / "train.tsv").write_text("ab\tba\n")  # one example: none left to validate on
    (folder / "test.tsv").write_text("ab\tba\n")
    command = ["train", "--task=pairs", f"--data={folder}", f"--output={tmp_path / 'run'}"]
    assert main(command) == 2
    assert "the train split has no examples" in capsys.readouterr().err
