"""Spelling with fresh noise: each epoch corrupts the training sentences anew, the same way for
the same (seed, epoch, sentence) whatever else is loaded; validation and test keep theirs; a
run resumes exactly; a run recorded before the option existed resumes without it."""

import torch
from checkpoint_files import forged
from data_files import write_spelling

from searnn_ext import checkpoint
from searnn_ext.cli import main
from searnn_ext.data import load_spelling


def sources(examples) -> list[list[int]]:
    return [e.source.tolist() for e in examples]


def test_each_epoch_draws_a_new_corruption_of_the_training_sentences(tmp_path):
    folder = write_spelling(tmp_path / "text", sentences=40)
    fresh = load_spelling(folder, noise=0.5, fresh_noise=True)
    fixed = load_spelling(folder, noise=0.5)
    assert sources(fresh.train_of(1)) == sources(fixed.train) == sources(fixed.train_of(5))
    epochs = [sources(fresh.train_of(epoch)) for epoch in (1, 2, 3)]
    assert epochs[0] != epochs[1] != epochs[2] != epochs[0]
    for epoch in (2, 3):
        assert [e.target.tolist() for e in fresh.train_of(epoch)] == [
            e.target.tolist() for e in fixed.train
        ]
        noisy = sum(
            a != b
            for e in fresh.train_of(epoch)
            for a, b in zip(e.source, e.target[:-1], strict=True)
        )
        assert noisy > 0
    assert sources(fresh.valid) == sources(fixed.valid)
    assert sources(fresh.test) == sources(fixed.test)


def test_a_sentences_corruption_depends_on_seed_epoch_and_index_alone(tmp_path):
    folder = write_spelling(tmp_path / "text", sentences=40)
    whole = load_spelling(folder, noise=0.5, fresh_noise=True)
    again = load_spelling(folder, noise=0.5, fresh_noise=True)
    fewer = load_spelling(folder, noise=0.5, fresh_noise=True, limit=7)
    other_seed = load_spelling(folder, noise=0.5, fresh_noise=True, seed=1)
    assert sources(whole.train_of(4)) == sources(again.train_of(4))
    assert sources(fewer.train_of(4)) == sources(whole.train_of(4))[:7]
    assert sources(other_seed.train_of(4)) != sources(whole.train_of(4))


TRAIN = ["train", "--task=spelling", "--limit=24", "--hidden-size=8", "--batch-size=8", "--quiet"]


def test_a_fresh_noise_run_resumes_exactly(tmp_path):
    data = write_spelling(tmp_path / "text", sentences=30)
    options = [*TRAIN, f"--data={data}", "--noise=0.5", "--loss=ll", "--rollout=learned"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main([*options, "--epochs=3", f"--output={straight}"]) == 0
    assert main([*options, "--epochs=1", f"--output={split}"]) == 0
    assert main(["train", f"--output={split}", "--epochs=3", "--resume", "--quiet"]) == 0
    one = checkpoint.load(straight / "checkpoint.pt")
    two = checkpoint.load(split / "checkpoint.pt")
    assert one["run"]["data_options"]["fresh_noise"] is True
    assert all(torch.equal(one["model"][k], two["model"][k]) for k in one["model"])
    unchanged = tmp_path / "unchanged"
    assert main([*options, "--epochs=3", "--no-fresh-noise", f"--output={unchanged}"]) == 0
    three = checkpoint.load(unchanged / "checkpoint.pt")
    assert not all(torch.equal(one["model"][k], three["model"][k]) for k in one["model"])


def test_a_run_recorded_before_fresh_noise_resumes_without_it(tmp_path):
    data = write_spelling(tmp_path / "text", sentences=30)
    output = tmp_path / "run"
    command = [*TRAIN, f"--data={data}", "--no-fresh-noise", "--epochs=1", f"--output={output}"]
    assert main(command) == 0
    path = output / "checkpoint.pt"
    forged(path, lambda content: content["run"]["data_options"].pop("fresh_noise"))
    assert main(["train", f"--output={output}", "--epochs=2", "--resume", "--quiet"]) == 0
    assert checkpoint.load(path)["run"]["data_options"]["fresh_noise"] is False


def test_reproduce_keys_runs_by_their_noise(tmp_path):
    import json

    data = write_spelling(tmp_path / "text")
    command = ["reproduce", "--task=spelling", f"--data={data}", "--epochs=1", "--threads=1"]
    command += ["--limit=16", "--rows", "MLE"]
    assert main([*command, f"--output={tmp_path / 'fresh'}"]) == 0
    assert main([*command, "--no-fresh-noise", f"--output={tmp_path / 'fixed'}"]) == 0
    keys = {}
    for name in ("fresh", "fixed"):
        record = json.loads((tmp_path / name / "results.jsonl").read_text())
        keys[name] = record["command"]
    # Without fresh noise, the key is the one earlier versions wrote, so their runs resume.
    assert "--fresh-noise" in keys["fresh"] and "--fresh-noise" not in keys["fixed"]
    assert keys["fresh"].replace(" --fresh-noise", "") == keys["fixed"]
