"""searnn predict on every task: fed a split's sources in the task's text form, its output, scored
here in plain Python against the split's truth, gives the error searnn evaluate reports."""

import re

import pytest
from data_files import write_conll, write_ocr, write_spelling
from oracles import hamming, levenshtein, sentence_bleu

from searnn_ext import checkpoint, tasks
from searnn_ext.cli import main
from searnn_ext.config import RunConfig

TRAIN = ["--epochs=1", "--hidden-size=8", "--batch-size=8", "--quiet"]


def letters(ids, tokens) -> str:
    return "".join(tokens[i] for i in ids)


def checkpoint_test_split(output):
    """The checkpoint's test examples, loaded as its run loads them, and its output names."""
    state = checkpoint.load(output / "checkpoint.pt")
    data = tasks.load_data(RunConfig.from_dict(state["run"]), state["task"]["vocabularies"])
    return data.test, state["task"]["target_tokens"]


def text_task_inputs(output, folder):
    """spelling, synthetic, denoise: one source a line; the truth as text."""
    test, tokens = checkpoint_test_split(output)
    sources = "".join(letters(e.source.tolist(), tokens) + "\n" for e in test)
    truth = [letters(e.target.tolist(), tokens).removesuffix("</s>") for e in test]
    return sources, truth


def ocr_inputs(output, folder):
    """letter.data lines of the test fold (0); the truth: each word's letters."""
    lines = [line for line in (folder / "letter.data").open() if line.split()[5] == "0"]
    words, current = [], ""
    for line in lines:
        current += line.split()[1]
        if line.split()[2] == "-1":
            words.append(current)
            current = ""
    return "".join(lines), words


def conll_inputs(output, folder):
    """test.txt itself (predict ignores the chunk column); the truth: each sentence's tags."""
    text = (folder / "test.txt").read_text()
    sentences = [block for block in text.split("\n\n") if block.strip()]
    return text, [" ".join(line.split()[2] for line in s.splitlines()) for s in sentences]


def words_inputs(output, folder):
    """words: one source a line, its words separated by spaces; the truth as such words."""
    test, tokens = checkpoint_test_split(output)
    sources = "".join(" ".join(tokens[i] for i in e.source.tolist()) + "\n" for e in test)
    return sources, [" ".join(tokens[i] for i in e.target[:-1].tolist()) for e in test]


TASKS = {
    "ocr": (lambda tmp: ["--task=ocr", f"--data={write_ocr(tmp)}"], ocr_inputs, "hamming"),
    "conll": (lambda tmp: ["--task=conll", f"--data={write_conll(tmp)}"], conll_inputs, "hamming"),
    "spelling": (
        lambda tmp: ["--task=spelling", f"--data={write_spelling(tmp)}", "--noise=0.5"],
        text_task_inputs,
        "edit",
    ),
    "synthetic": (lambda tmp: ["--task=synthetic", "--limit=40"], text_task_inputs, "hamming"),
    "denoise": (lambda tmp: ["--task=denoise", "--limit=40"], text_task_inputs, "edit"),
    "words": (lambda tmp: ["--task=words", f"--data={write_spelling(tmp)}"], words_inputs, "bleu"),
}


@pytest.mark.parametrize("task", list(TASKS))
def test_predict_output_scores_what_evaluate_reports(task, tmp_path, capsys):
    options, inputs, cost = TASKS[task]
    folder, output = tmp_path / "data", tmp_path / "run"
    assert main(["train", *options(folder), *TRAIN, f"--output={output}"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(output / "checkpoint.pt")]) == 0
    reported = float(re.match(rf"{task} test error: (\d+\.\d\d)%\n", capsys.readouterr().out)[1])
    sources, truth = inputs(output, folder)
    (tmp_path / "input.txt").write_text(sources)
    assert (
        main(["predict", str(output / "checkpoint.pt"), f"--input={tmp_path / 'input.txt'}"]) == 0
    )
    predictions = capsys.readouterr().out.split("\n")[:-1]
    assert len(predictions) == len(truth)
    if cost == "bleu":  # 100 * the mean of 1 - sentence BLEU
        pairs = zip(predictions, truth, strict=True)
        costs = [1 - sentence_bleu(p.split(), t.split()) for p, t in pairs]
        assert reported == round(100 * sum(costs) / len(costs), 2)
        return
    if cost == "hamming":
        split = (lambda text: text.split()) if task == "conll" else list
        distance = sum(hamming(split(p), split(t)) for p, t in zip(predictions, truth, strict=True))
        total = sum(len(split(t)) for t in truth)
    else:
        distance = sum(
            levenshtein(list(p), list(t)) for p, t in zip(predictions, truth, strict=True)
        )
        total = sum(len(t) for t in truth)
    assert reported == round(100 * distance / total, 2)
