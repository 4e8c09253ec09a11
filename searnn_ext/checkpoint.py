"""Checkpoints: plain data only (tensors, numbers, strings, lists and dicts), written with
torch.save and read back with `weights_only=True`, so that loading a file runs no code from it;
and a SHA-256 of that content, checked on every load, so that a corrupted or truncated file is
refused instead of resumed.

A checkpoint holds: the run's configuration (searnn_ext.config.RunConfig), what the model needs of
its data (searnn_ext.tasks.TaskRecord: vocabularies, sizes, decoding budget), the model's and
the optimiser's state, every process's random-number state, the epoch and step it was written
after, and the number of steps skipped for a non-finite loss or gradient."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import torch

from searnn_ext import checkpoint_schema, distributed
from searnn_ext.config import RunConfig
from searnn_ext.files import replacing
from searnn_ext.model import Seq2Seq
from searnn_ext.tasks import TaskRecord, as_recorded, build_model
from searnn_ext.trainer import SearnnTrainer

logger = logging.getLogger("searnn")

FORMAT = "searnn_ext checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A file that is not a checkpoint this version can use; the message names the file."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        super().__init__(f"{path}: {problem}")


def save(state: dict, path: str | os.PathLike) -> None:
    """Writes `state` (plain data) with its format, version and checksum, atomically."""
    content = dict(state, format=FORMAT, version=VERSION)
    content["checksum"] = digest(content)
    try:
        with replacing(path) as partial:
            torch.save(content, partial)
    # torch.save reports a failed write (a full disk, a file size limit) as a RuntimeError from
    # its zip writer, or as an OSError.
    except (RuntimeError, OSError) as error:
        kept = "the previous checkpoint is kept" if Path(path).exists() else "none was written"
        raise OSError(
            f"{path}: the checkpoint could not be written ({_reason(error)}); {kept}. Is the "
            "disk full?"
        ) from None


def load(path: str | os.PathLike) -> dict:
    """The content of a checkpoint written by `save`, on the CPU. Raises CheckpointError for a
    file that holds anything but plain data (nothing of it runs), that is truncated or
    corrupt, or that is not a searnn_ext checkpoint; FileNotFoundError when there is none."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    with open(path, "rb") as file:  # a folder or an unreadable file fails here, as an OSError
        try:
            content = torch.load(file, map_location="cpu", weights_only=True)
        # torch.load reports a damaged file with many exception types (zip, pickle, storage,
        # OS errors); each one means the same here: the file is not a checkpoint to load.
        except Exception as error:
            raise CheckpointError(path, f"not a readable checkpoint ({_reason(error)})") from None
    if isinstance(content, dict) and "args" in content and "format" not in content:
        raise CheckpointError(
            path,
            "written by an earlier searnn_ext, without a checksum or a run configuration; its "
            "weights are under 'model' (torch.load(path, weights_only=True)), but it cannot be "
            "resumed or evaluated",
        )
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise CheckpointError(path, "not a searnn_ext checkpoint")
    if content.get("version") != VERSION:
        raise CheckpointError(
            path, f"a checkpoint of format version {content.get('version')}; this is {VERSION}"
        )
    recorded = content.pop("checksum", None)
    try:
        matches = recorded == digest(content)
    except (TypeError, RecursionError) as error:
        raise CheckpointError(path, f"not a searnn_ext checkpoint: {error}") from None
    if not matches:
        raise CheckpointError(path, "its content does not match its checksum: the file is corrupt")
    try:
        checkpoint_schema.check(content, path)
    except checkpoint_schema.SchemaError as error:
        raise CheckpointError(path, f"not a checkpoint this version can use: {error}") from None
    return content


def _reason(error: Exception) -> str:
    if "Weights only load failed" in str(error):
        return "it holds objects other than plain data, which could run code: not loaded"
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def digest(value) -> str:
    """SHA-256 of plain data, independent of dict order and of devices."""
    hasher = hashlib.sha256()
    _feed(hasher, value)
    return hasher.hexdigest()


def _feed(hasher, value) -> None:
    if isinstance(value, torch.Tensor):
        if value.layout != torch.strided:
            raise TypeError(f"a checkpoint holds dense tensors only, not {value.layout} ones")
        tensor = value.detach().cpu().contiguous()
        hasher.update(f"tensor {tensor.dtype} {list(tensor.shape)}:".encode())
        hasher.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, dict):
        hasher.update(f"dict {len(value)}:".encode())
        for key in sorted(value, key=repr):
            _feed(hasher, key)
            _feed(hasher, value[key])
    elif isinstance(value, (list, tuple)):
        hasher.update(f"{type(value).__name__} {len(value)}:".encode())
        for item in value:
            _feed(hasher, item)
    elif value is None or isinstance(value, (str, int, float, bool)):
        hasher.update(f"{type(value).__name__} {value!r};".encode())
    else:
        raise TypeError(f"a checkpoint holds plain data only, not {type(value).__name__}")


def _random_states(device) -> dict:
    states = dict(torch=torch.get_rng_state())
    if torch.device(device).type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def training_state(
    trainer: SearnnTrainer,
    run: RunConfig,
    record: TaskRecord,
    *,
    epoch: int,
    step: int,
    skipped_steps: int,
    device,
) -> dict:
    """What --resume needs after `epoch` epochs, with every process's random draws (a
    collective call: every process of the group makes it)."""
    group = trainer.group
    return dict(
        run=run.to_dict(),
        task=vars(record).copy(),
        model=trainer.model.state_dict(),
        optimizer=trainer.optimizer.state_dict(),
        generators=distributed.gather(trainer.generator.get_state(), group),
        random_states=distributed.gather(_random_states(device), group),
        epoch=epoch,
        step=step,
        skipped_steps=skipped_steps,
    )


def restore(state: dict, trainer: SearnnTrainer, path, device) -> tuple[int, int, int]:
    """Loads a checkpoint's state into the trainer and the random generators; returns its
    epoch, step and skipped steps."""
    group = trainer.group
    if len(state["generators"]) != group.world:
        raise CheckpointError(
            path,
            f"written by {len(state['generators'])} processes; resume it with as many, "
            f"not {group.world}",
        )
    load_weights(trainer.model, state, path)
    try:
        trainer.optimizer.load_state_dict(state["optimizer"])
    except (ValueError, KeyError, RuntimeError, TypeError, AttributeError) as error:
        raise CheckpointError(path, f"its optimiser state does not fit ({error})") from None
    _check_optimizer_shapes(trainer.optimizer, path)
    trainer.generator.set_state(state["generators"][group.rank])
    mine = state["random_states"][group.rank]
    torch.set_rng_state(mine["torch"])
    if "cuda" in mine:
        torch.cuda.set_rng_state(mine["cuda"], device)
    logger.info("resuming %s after epoch %d", path, state["epoch"])
    return state["epoch"], state["step"], state["skipped_steps"]


def _check_optimizer_shapes(optimizer: torch.optim.Optimizer, path) -> None:
    """load_state_dict checks the parameter groups, not the per-weight tensors (moments,
    momenta): one of the wrong shape would fail at the next step, deep inside the optimiser."""
    for group in optimizer.param_groups:
        for weight in group["params"]:
            for name, value in optimizer.state.get(weight, {}).items():
                if isinstance(value, torch.Tensor) and value.dim() and value.shape != weight.shape:
                    raise CheckpointError(
                        path,
                        f"its optimiser state does not fit: {name} is {list(value.shape)} for a "
                        f"weight of {list(weight.shape)}",
                    )


def load_weights(model: Seq2Seq, state: dict, path) -> None:
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as error:
        first = str(error).strip().splitlines()
        raise CheckpointError(path, f"its weights do not fit the model ({first[-1]})") from None


def load_model(path: str | os.PathLike, device="cpu") -> tuple[Seq2Seq, RunConfig, TaskRecord]:
    """The trained model of a checkpoint (in eval mode, on `device`), its run and the record
    of its data; nothing but the checkpoint is read."""
    state = load(path)
    run = as_recorded(RunConfig.from_dict(state["run"]))
    record = TaskRecord(**state["task"])
    model = build_model(run, record)
    load_weights(model, state, path)
    return model.to(device).eval(), run, record
