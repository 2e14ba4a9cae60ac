"""What a training run ends in, without torch: the figures it measured, or why it failed; and the
hook a search prunes it through."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal

# Reporter(tokens_seen, val_loss) at each checkpoint before the final one: raise from it to stop
# the run (a search prunes this way). The final loss is the result, not a report.
Reporter = Callable[[int, float], None]

FailureKind = Literal["diverged", "out_of_memory", "too_large"]


class TrainingFailed(RuntimeError):
    """A run that could not finish, and why: its loss diverged (NaN/Inf), it ran out of GPU
    memory, or its estimated memory is above the GPU's."""

    def __init__(self, reason: str, kind: FailureKind = "diverged") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


@dataclass
class TrainResult:
    """What one training run measured. ``mfu`` is against the GPU's datasheet dense bf16 peak,
    ``mfu_measured_ceiling`` against the matmul rate measured here (H200 SXM only)."""

    val_loss: float
    val_bpb: float
    steps: int
    tokens: int
    tokens_per_s: float
    mfu: float | None
    mfu_measured_ceiling: float | None
    peak_mem_gb: float | None
    estimated_mem_gb: float
    setup_s: float
    first_step_s: float
    compile_s: float
    train_s: float
    eval_s: float
    data_wait_s: float
    wall_s: float
    device: str
    passes: float
    spike: float
    # How far the spike stands above the median spike of the run's own batch noise shuffled
    # (search.training.curves): about 0 for a stable run, however long.
    spike_beyond_noise: float
    loss_curve: list[float] = field(repr=False)
    checkpoints: list[dict[str, float]] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """Every figure except the per-step curve."""
        data = asdict(self)
        del data["loss_curve"]
        return data
