"""Hostile input found by probing the loaders and the benchmarks' options: a byte order mark,
non-finite or oddly laid out word vectors, OCR pixels that are not finite, a fold out of range, a
letter field of two letters, blank lines, a file where a folder belongs, and benchmark options
out of range. Each is refused with one message naming the file and line (or the option); on the
command line, one line and exit status 2."""

import gzip
import io
import re

import pytest
from data_files import write_conll, write_ocr

from searnn_ext.cli import main
from searnn_ext.data import load_conll, load_embeddings, load_ocr
from searnn_ext.data.pairs import load_pairs
from searnn_ext.data.text import DataError, decode_lines, read_lines

BOM = "\ufeff"


def test_a_byte_order_mark_is_not_a_source_token(tmp_path):
    (tmp_path / "train.tsv").write_text(f"{BOM}ab\tba\ncd\tdc\nef\tfe\n")
    (tmp_path / "test.tsv").write_text("ab\tba\n")
    data = load_pairs(tmp_path)
    assert data.vocabularies["source"] == ["<unk>", *"abcdef"]


@pytest.mark.parametrize("packed", [False, True], ids=["plain", "gzip"])
def test_every_reader_drops_a_leading_byte_order_mark(tmp_path, packed):
    text = f"{BOM}first line\n{BOM}second line\n"
    file = tmp_path / ("lines.txt.gz" if packed else "lines.txt")
    file.write_bytes(gzip.compress(text.encode()) if packed else text.encode())
    # Only the file's first character is a byte order mark; later, U+FEFF is text.
    expected = [(1, "first line"), (2, f"{BOM}second line")]
    assert list(read_lines(file)) == expected
    assert list(decode_lines(io.BytesIO(text.encode()), "stdin")) == expected


def test_conll_and_word_vectors_behind_a_byte_order_mark(tmp_path):
    folder = write_conll(tmp_path / "conll")
    train = folder / "train.txt"
    train.write_text(BOM + train.read_text())
    vectors = tmp_path / "vectors.txt"
    vectors.write_text(f"{BOM}he 1.0 2.0\n")
    data = load_conll(folder, min_count=0, embeddings=vectors)
    assert not any(BOM in word for word in data.vocabularies["words"])
    table = load_embeddings(vectors, ["he"])
    assert table.tolist() == [[1.0, 2.0]]


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity"])
def test_non_finite_word_vectors_name_the_line_and_the_word(tmp_path, value):
    vectors = tmp_path / "vectors.txt"
    vectors.write_text(f"the 1.0 2.0\ncat 1.0 {value}\n")
    message = rf"vectors.txt:2: the vector of 'cat': '{value}' is not a finite number"
    with pytest.raises(DataError, match=message):
        load_embeddings(vectors, ["the"])


def test_non_finite_word_vectors_stop_a_run_before_it_starts(tmp_path, capsys):
    folder = write_conll(tmp_path / "conll")
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("he 1.0 2.0\nthe nan 2.0\n")
    command = [
        "train",
        "--task=conll",
        f"--data={folder}",
        f"--embeddings={vectors}",
        f"--output={tmp_path / 'run'}",
    ]
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err == f"searnn train: {vectors}:2: the vector of 'the': 'nan' is not a finite number\n"


def test_word_vectors_separated_by_any_whitespace(tmp_path):
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("the\t1.0\t2.0\ncat  3.0 \t4.0 \n\n")
    assert load_embeddings(vectors, ["cat", "the"]).tolist() == [[3.0, 4.0], [1.0, 2.0]]


def test_a_word2vec_header_is_recognised(tmp_path):
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("2 3\nthe 1 2 3\ncat 4 5 6\n")
    assert load_embeddings(vectors, ["cat", "the"]).tolist() == [[4, 5, 6], [1, 2, 3]]


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "2 3\nthe 1 2\ncat 4 5\n",
            r"vectors.txt:2: 2 numbers, where the header \(line 1\) says 3",
        ),
        (
            "3 2\nthe 1 2\ncat 4 5\n",
            r"vectors.txt:1: the header announces 3 vectors, the file has 2",
        ),
        ("the 1 2\ncat\n", r"vectors.txt:2: expected a word and its numbers, got only 'cat'"),
    ],
)
def test_word_vectors_that_disagree_with_their_header_or_lack_numbers(tmp_path, text, message):
    vectors = tmp_path / "vectors.txt"
    vectors.write_text(text)
    with pytest.raises(DataError, match=message):
        load_embeddings(vectors, ["the"])


def replace_field(file, line: int, field: int, value: str) -> None:
    lines = file.read_text().splitlines()
    fields = lines[line].split(" ")
    fields[field] = value
    lines[line] = " ".join(fields)
    file.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_ocr_pixels_must_be_finite(tmp_path, value):
    file = write_ocr(tmp_path) / "letter.data"
    replace_field(file, line=2, field=40, value=value)
    with pytest.raises(DataError, match=rf"letter.data:3: the pixels: '{value}' is not a finite"):
        load_ocr(tmp_path)


@pytest.mark.parametrize("fold", ["10", "-1", "x"])
def test_ocr_folds_lie_in_0_to_9(tmp_path, fold):
    file = write_ocr(tmp_path) / "letter.data"
    replace_field(file, line=2, field=5, value=fold)
    with pytest.raises(DataError, match=rf"letter.data:3: the fold is '{fold}', not 0 to 9"):
        load_ocr(tmp_path)


def test_a_data_path_that_is_a_file(tmp_path, capsys):
    file = write_ocr(tmp_path) / "letter.data"
    with pytest.raises(NotADirectoryError, match=re.escape(f"{file} is a file, not a folder")):
        load_ocr(file)
    command = ["train", "--task=ocr", f"--data={file}", f"--output={tmp_path / 'run'}"]
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{file} is a file, not a folder" in err


@pytest.mark.parametrize(
    "bench, options",
    [
        ("costs", ["--threads", "-1"]),
        ("costs", ["--threads", "two"]),
        ("costs", ["--repeats", "0"]),
        ("costs", ["--slow-repeats", "0"]),
        ("rollout", ["--threads", "0"]),
        ("rollout", ["--repeats", "0"]),
        ("rollout", ["--slow-repeats", "-2"]),
        ("precision", ["no-checkpoint.pt", "--threads", "0"]),
        ("precision", ["no-checkpoint.pt", "--batches", "-1"]),
        ("precision", ["no-checkpoint.pt", "--batches", "0"]),
    ],
)
def test_bench_numbers_are_checked_by_the_parser(bench, options, capsys):
    # --quick keeps a benchmark that accepts the value short (and before the checks, --quick
    # replaced --repeats: a bad value ran).
    quick = [] if bench == "precision" else ["--quick"]
    with pytest.raises(SystemExit) as exit_:
        main(["bench", bench, *quick, *options])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    option = next(o for o in options if o.startswith("--"))
    assert err.count("\n") == 1
    assert err.startswith(f"searnn bench {bench}: argument {option}: must be a positive integer")


def test_an_ocr_letter_is_one_letter(tmp_path):
    file = write_ocr(tmp_path) / "letter.data"
    replace_field(file, line=2, field=1, value="ab")  # a substring of a-z, not a letter
    with pytest.raises(DataError, match=r"letter.data:3: the letter field is 'ab', not a-z"):
        load_ocr(tmp_path)


def test_ocr_skips_blank_lines_as_the_other_readers_do(tmp_path):
    file = write_ocr(tmp_path) / "letter.data"
    expected = load_ocr(tmp_path)
    lines = file.read_text().splitlines()
    file.write_text("\n".join([*lines[:5], "", *lines[5:]]) + "\n\n\r\n")
    data = load_ocr(tmp_path)
    assert [e.target.tolist() for e in data.test] == [e.target.tolist() for e in expected.test]
    assert len(data.train) == len(expected.train)
