"""How much reduced-precision roll-outs change what SEARNN learns from: the share of cells
(sequence, step) whose whole cost vector equals the float32 one, and the share whose LL target
(the cheapest candidate, ties to the ground truth) changes."""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from searnn_ext.losses import target_tokens


@dataclasses.dataclass
class Agreement:
    cells: int  # cells with at least one counted candidate
    equal_costs: float  # share of them whose costs all equal float32's
    changed_targets: float  # share of them whose LL target differs from float32's

    def describe(self) -> str:
        return (
            f"costs equal on {self.equal_costs:.2%} of {self.cells:,} cells; "
            f"LL target changed on {self.changed_targets:.2%}"
        )


def agreement(candidates: Tensor, full: Tensor, reduced: Tensor, truth: Tensor) -> Agreement:
    """candidates [B, T, K]; full, reduced: costs [B, T, K] of float32 and reduced-precision
    roll-outs; truth [B, T] the ground-truth token of each cell (-1: none), the LL tie-break."""
    counted = torch.isfinite(full).any(-1)
    if not torch.equal(torch.isfinite(full), torch.isfinite(reduced)):
        raise AssertionError("reduced-precision roll-outs counted other cells than float32")
    same = ((full == reduced) | ~torch.isfinite(full)).all(-1)
    changed = target_tokens(candidates, full, truth) != target_tokens(candidates, reduced, truth)
    cells = int(counted.sum())
    share = lambda mask: float((mask & counted).sum()) / max(cells, 1)  # noqa: E731
    return Agreement(cells, share(same), share(changed))
