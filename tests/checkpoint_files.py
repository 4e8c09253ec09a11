"""Checkpoints edited as an attacker, or an earlier version, would write them."""

import torch

from searnn_ext import checkpoint


def forged(path, edit) -> None:
    """The checkpoint at `path` edited in place by `edit(content)`, its checksum recomputed."""
    content = torch.load(path, weights_only=True)
    del content["checksum"]
    edit(content)
    content["checksum"] = checkpoint.digest(content)
    torch.save(content, path)
