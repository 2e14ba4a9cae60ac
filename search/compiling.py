"""Regional compilation that a warm worker reuses across trials of different widths.

Each decoder block is compiled on its own, with its MLP width marked dynamic, so one compiled
graph serves every width of every trial in the process: the first trial pays the compile, the
next ones pay nothing. Dynamo is told to fail instead of falling back to eager mode past its
recompile limit, so a regression here is loud, never a silent slowdown.
"""

from __future__ import annotations

import torch
import torch._dynamo

from model.decoder import Decoder


def configure_dynamo() -> None:
    """Dynamo settings for width-dynamic regional compilation (process-wide, idempotent)."""
    config = torch._dynamo.config
    config.fail_on_recompile_limit_hit = True
    # Parameter and module-property shapes are static by default, which would compile one
    # graph per distinct MLP width and hit the recompile limit after eight of them.
    config.force_parameter_static_shapes = False
    config.force_nn_module_property_static_shapes = False


def compile_regions(model: Decoder) -> None:
    """Compile each block (MLP width dynamic) and the output head with its loss, in place."""
    configure_dynamo()
    for block in model.blocks:
        if block.mlp is not None:
            torch._dynamo.mark_dynamic(block.mlp.gate_up.weight, 0)
            torch._dynamo.mark_dynamic(block.mlp.down.weight, 1)
        block.compile()
    # An instance attribute shadows the method, so forward() calls the compiled loss.
    model.loss = torch.compile(model.loss)  # type: ignore[method-assign]


def compile_whole(model: Decoder) -> torch.nn.Module:
    """The whole model compiled as one graph, as the reference decoder does (benchmarks only)."""
    return torch.compile(model)
