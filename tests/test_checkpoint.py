"""Checkpoints are data, never code: a hostile pickle runs nothing, a corrupted or truncated file
is refused naming it, and the checksum covers every value whatever the order of its keys."""

import struct
import zipfile

import pytest
import torch

from searnn_ext import checkpoint
from searnn_ext.checkpoint import CheckpointError
from searnn_ext.cli import main

TINY = ["train", "--task=synthetic", "--limit=32", "--batch-size=16", "--hidden-size=8"]


class Hostile:
    """Unpickling it calls open(path, "w"): a file appears if any of its code runs."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture
def trained(tmp_path):
    output = tmp_path / "run"
    command = [*TINY, "--epochs=1", "--loss=mle", "--quiet", f"--output={output}"]
    assert main(command) == 0
    return output / "checkpoint.pt"


def test_a_hostile_pickle_runs_nothing(tmp_path, capsys):
    marker = tmp_path / "pwned"
    hostile = tmp_path / "checkpoint.pt"
    torch.save({"format": checkpoint.FORMAT, "model": Hostile(marker)}, hostile)
    with pytest.raises(CheckpointError, match="could run code") as refused:
        checkpoint.load(hostile)
    assert str(hostile) in str(refused.value)
    assert main(["evaluate", str(hostile)]) == 2
    assert main(["predict", str(hostile), f"--input={hostile}"]) == 2
    assert main([*TINY, "--epochs=2", "--resume", f"--output={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert err.count("could run code") == 3 and "Traceback" not in err
    assert not marker.exists()
    # Loading it as the package once did runs its code: the file is really hostile.
    torch.load(hostile, weights_only=False)
    assert marker.exists()


def test_a_changed_value_fails_the_checksum(trained, tmp_path):
    content = torch.load(trained, weights_only=True)
    name = next(iter(content["model"]))
    content["model"][name] = content["model"][name] + 1e-3
    tampered = tmp_path / "tampered.pt"
    torch.save(content, tampered)
    with pytest.raises(CheckpointError, match="does not match its checksum") as refused:
        checkpoint.load(tampered)
    assert str(tampered) in str(refused.value)


def _middle_of_largest_record(path) -> int:
    """The file offset of the middle of the largest member of the checkpoint's zip archive."""
    with zipfile.ZipFile(path) as archive:
        member = max(archive.infolist(), key=lambda info: info.file_size)
    with open(path, "rb") as file:
        file.seek(member.header_offset + 26)  # the local header's name and extra lengths
        name_length, extra_length = struct.unpack("<HH", file.read(4))
    return member.header_offset + 30 + name_length + extra_length + member.compress_size // 2


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty"])
def test_a_damaged_file_is_refused_naming_it(trained, tmp_path, capsys, damage):
    data = bytearray(trained.read_bytes())
    if damage == "flip":  # bytes in the middle of the largest stored record, not zip padding
        middle = _middle_of_largest_record(trained)
        data[middle : middle + 8] = bytes(b ^ 0xFF for b in data[middle : middle + 8])
    elif damage == "truncate":
        data = data[: len(data) * 2 // 3]
    else:
        data = bytearray()
    broken = tmp_path / "broken.pt"
    broken.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as refused:
        checkpoint.load(broken)
    assert str(broken) in str(refused.value)
    assert main(["evaluate", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(broken) in err


def test_files_that_are_not_checkpoints(tmp_path, capsys):
    other = tmp_path / "weights.pt"
    torch.save({"weight": torch.ones(2)}, other)
    with pytest.raises(CheckpointError, match="not a searnn_ext checkpoint"):
        checkpoint.load(other)
    torch.save({"model": {"weight": torch.ones(2)}, "args": {"task": "ocr"}, "epoch": 1}, other)
    with pytest.raises(CheckpointError, match="written by an earlier searnn_ext"):
        checkpoint.load(other)
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        checkpoint.load(tmp_path / "missing.pt")
    assert main(["evaluate", str(tmp_path)]) == 2  # a folder
    assert main(["evaluate", str(tmp_path / "missing.pt")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(str(tmp_path) in line for line in err)


def test_the_digest_covers_values_not_their_order():
    one = {"a": torch.arange(4), "b": [1, 2.5, "x", None, True], "c": {"d": (1, 2)}}
    two = {"c": {"d": (1, 2)}, "b": [1, 2.5, "x", None, True], "a": torch.arange(4)}
    assert checkpoint.digest(one) == checkpoint.digest(two)
    for changed in (
        {**one, "a": torch.arange(4) + 1},
        {**one, "a": torch.arange(4).float()},  # same values, another dtype
        {**one, "b": [1, 2.5, "x", None, False]},
        {**one, "c": {"d": [1, 2]}},
    ):
        assert checkpoint.digest(changed) != checkpoint.digest(one)
    with pytest.raises(TypeError, match="plain data only"):
        checkpoint.digest({"f": object()})


def test_what_a_checkpoint_holds(trained):
    state = checkpoint.load(trained)
    assert {"run", "task", "model", "optimizer", "generators", "random_states"} <= set(state)
    assert state["run"]["task"] == "synthetic" and state["run"]["searnn"]["loss"] == "mle"
    assert state["task"]["target_tokens"] == list("abcdefgh")
    assert (state["epoch"], state["step"], state["skipped_steps"]) == (1, 2, 0)
