"""The loaders on small files written here (so they run without the shared data), and the
`searnn reproduce` and `searnn bench` commands end to end on them."""

import json
import re
import statistics

import pytest
from data_files import write_conll, write_ocr, write_spelling

from searnn_ext import checkpoint
from searnn_ext.cli import main, train_argv
from searnn_ext.data import load_conll, load_ocr, load_spelling


def test_ocr_from_a_small_file(tmp_path):
    data = load_ocr(write_ocr(tmp_path / "ocr"), test_fold=3, valid_fraction=0.25)
    assert len(data.test) == 4 and len(data.train) + len(data.valid) == 36
    assert len(data.valid) == 9
    example = data.test[0]
    assert example.source.shape == (len(example.target), 128)
    assert int(example.target.max()) < 6


def test_conll_from_small_files(tmp_path):
    train = "The DT B-NP\ncat NN I-NP\nsat VBD B-VP\n1,000 CD B-NP\n\nThe DT B-NP\ndog NN I-NP\n"
    (tmp_path / "train.txt").write_text(train)
    (tmp_path / "test.txt").write_text("A DT B-NP\nlist NN I-LST\n")
    data = load_conll(tmp_path, min_count=1, valid_fraction=0.0)
    assert data.vocabularies["words"] == ["<UNK>", "<NUM>", "the"]  # "the" is seen twice, > 1
    assert data.target_tokens == ["B-NP", "B-VP", "I-NP", "O"]
    first = data.train[0]
    assert first.source[:, 0].tolist() == [2, 0, 0, 1]  # the, <UNK>, <UNK>, <NUM>
    assert data.test[0].target.tolist() == [0, 3]  # I-LST, unseen in training, becomes O
    with pytest.raises(ValueError, match="expected 'word POS chunk'"):
        (tmp_path / "test.txt").write_text("two fields\n")
        load_conll(tmp_path)


def test_spelling_from_small_files(tmp_path):
    data = load_spelling(write_spelling(tmp_path), noise=0.5, valid_size=10)
    assert len(data.valid) == 10 and len(data.train) == 50 and len(data.test) == 30
    assert all(len(e.target) <= 11 for e in data.train)  # 10 characters and EOS


def test_reproduce_prints_rows_beside_the_paper(tmp_path, capsys):
    data = write_ocr(tmp_path / "ocr")
    command = ["reproduce", "--task=ocr", f"--data={data}", "--epochs=1", "--threads=1"]
    rows = ["--rows", "MLE", "LL learned/mixed", "--seeds", "0", "1"]
    assert main([*command, *rows, f"--output={tmp_path / 'runs'}"]) == 0
    table = capsys.readouterr().out.splitlines()
    records = [json.loads(line) for line in (tmp_path / "runs" / "results.jsonl").open()]
    assert len(records) == 4
    for line, row, paper in zip(table[2:4], ("MLE", "LL learned/mixed"), (2.8, 1.9), strict=True):
        errors = [r["test_error"] for r in records if r["row"] == row]
        mean, spread = statistics.mean(errors), statistics.stdev(errors)
        assert line.startswith(f"| {row} | {paper} | {mean:.2f} ± {spread:.2f} | ")
    assert main([*command, "--rows", "SHL"]) == 2


def test_reproduce_rows_with_the_optimal_reference(tmp_path, capsys):
    """Named rows beyond the paper's, OCD among them: no paper figure, --reference=optimal in
    their command."""
    data = write_spelling(tmp_path / "text")
    command = ["reproduce", "--task=spelling", f"--data={data}", "--epochs=1", "--threads=1"]
    rows = ["--rows", "LL learned/reference-optimal", "LLCAS learned/reference-optimal", "OCD"]
    rows.append("LL uniform learned/mixed-optimal")
    assert main([*command, *rows, f"--output={tmp_path / 'runs'}"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[2].startswith("| LL uniform learned/mixed-optimal | - | ")
    assert table[3].startswith("| LL learned/reference-optimal | - | ")
    assert table[4].startswith("| LLCAS learned/reference-optimal | - | ")
    assert table[5].startswith("| OCD | - | ")
    recorded = (tmp_path / "runs" / "results.jsonl").read_text()
    assert recorded.count("--rollout=reference --reference=optimal") == 3
    assert recorded.count("--rollout=mixed --reference=optimal --sampling=uniform --tokens=5") == 1
    assert recorded.count("--loss=ocd") == 1


def test_reproduce_resume_reuses_recorded_runs_and_continues_interrupted_ones(
    tmp_path, capsys, caplog
):
    data = write_ocr(tmp_path / "ocr")
    output = tmp_path / "runs"
    command = ["reproduce", "--task=ocr", f"--data={data}", "--epochs=1", "--threads=1"]
    command += ["--rows", "MLE", f"--output={output}"]
    results = output / "results.jsonl"
    assert main(command) == 0
    first = capsys.readouterr().out.splitlines()[2]
    assert main([*command, "--resume"]) == 0  # recorded: not trained again
    assert capsys.readouterr().out.splitlines()[2] == first
    assert len(results.read_text().splitlines()) == 1
    results.unlink()  # as if killed before recording: continues from the checkpoint
    with caplog.at_level("INFO", logger="searnn"):
        assert main([*command, "--resume"]) == 0
    assert "resuming" in caplog.text and '"resumed": true' in results.read_text()
    assert capsys.readouterr().out.splitlines()[2].split("|")[3] == first.split("|")[3]


def test_bench_runs_a_quick_benchmark(capsys):
    command = ["bench", "rollout", "--quick", "--shapes", "OCR", "Spelling", "--threads", "1"]
    assert main(command) == 0
    out = capsys.readouterr().out
    assert "| OCR " in out and "| Spelling " in out
    assert "searnn_ext, optimal reference roll-outs" in out
    assert "Spelling: optimal reference roll-outs" in out and "faster than learned" in out


def test_conll_trains_and_evaluate_reports_its_numbers(tmp_path, capsys):
    folder, output = write_conll(tmp_path / "data"), tmp_path / "run"
    command = ["--task=conll", f"--data={folder}", "--epochs=1", "--hidden-size=8"]
    summary = train_argv([*command, "--batch-size=4", "--quiet", f"--output={output}", "--beam=2"])
    capsys.readouterr()
    assert main(["evaluate", str(output / "checkpoint.pt"), "--beam=2"]) == 0
    error, f1 = re.fullmatch(
        r"conll test error: (\d+\.\d\d)%\nconll test chunk F1: (\d+\.\d\d)\n",
        capsys.readouterr().out,
    ).groups()
    assert float(error) == round(summary["test_error"], 2)
    assert float(f1) == round(summary["test_chunk_f1"], 2)


def test_table_2_has_no_conll_figure():
    from searnn_ext.reproduce import paper_column

    assert paper_column(2, "conll", 0.3) is None
    assert paper_column(1, "conll", 0.3) == 1


def test_reproduce_records_the_tasks_metrics(tmp_path):
    import json

    data = write_conll(tmp_path / "conll2000")
    command = ["reproduce", "--task=conll", f"--data={data}", "--epochs=1", "--threads=1"]
    assert main([*command, "--rows", "MLE", f"--output={tmp_path / 'runs'}"]) == 0
    record = json.loads((tmp_path / "runs" / "results.jsonl").read_text())
    assert 0 <= record["test_chunk_f1"] <= 100 and "test_error" in record


@pytest.mark.parametrize("cell", ["lstm", "transformer"])
def test_reproduce_with_another_cell(tmp_path, cell):
    """--cell trains every row's model with that cell, in its own folder and under its own key."""
    data = write_ocr(tmp_path / "ocr")
    output = tmp_path / "runs"
    command = ["reproduce", "--task=ocr", f"--data={data}", "--epochs=1", "--threads=1"]
    rows = ["--rows", "MLE", "LL learned/mixed"]
    assert main([*command, *rows, f"--cell={cell}", f"--output={output}"]) == 0
    records = [json.loads(line) for line in (output / "results.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(f"--cell={cell}" in r["command"] for r in records)
    state = checkpoint.load(output / f"ocr-{cell}-LL_learned-mixed-0" / "checkpoint.pt")
    assert state["run"]["model"]["cell"] == cell
