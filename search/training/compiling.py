"""Per-block compilation that a warm worker reuses across trials of different widths.

Each decoder block is compiled on its own; blocks of equal width share compiled code, also
across the trials of one worker process (and Inductor's on-disk cache shares kernels across
processes). Two ways to handle the widths:

- ``static``: one graph per distinct width, each with fixed shapes. Measured on an H200 with the
  small preset: 0.87 M tokens/s, as fast as compiling the whole model like the reference; a width
  not seen before in the process costs a few seconds of compiling once.
- ``dynamic``: one graph for every width (width a symbolic size). Nothing to compile after the
  first trial, but 0.69 M tokens/s: kernels with symbolic sizes ran about 25% slower.

Static is the default unless a budget allows more distinct widths than ``MAX_STATIC_WIDTHS``. A
trial compiles only its own widths, in its first step (and their evaluation graphs before its first
validation); :func:`warm_up_widths` compiles the others in background processes
(``search.trials.background_compiling``) that fill the on-disk caches, so a later trial's new
width costs it a cache hit, not a compile.
Dynamo's recompile limit is raised to fit the widths a budget allows and told to fail loudly
instead of falling back to eager mode, so a limit hit is an error, never a silent slowdown.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Literal

import torch
import torch._dynamo
import torch.fx.experimental._config as fx_config

from model.config import ModelConfig
from model.decoder import Decoder
from search.training.one_block import one_block_decoder, step_and_evaluate, use_width

CompileMode = Literal["static", "dynamic", "none"]

MAX_STATIC_WIDTHS = 16


def default_compile_mode(device: torch.device, distinct_widths: int) -> CompileMode:
    """Static on CUDA for up to ``MAX_STATIC_WIDTHS`` widths, else dynamic; none on CPU, where
    compiling costs more than it saves."""
    if device.type != "cuda":
        return "none"
    return "static" if distinct_widths <= MAX_STATIC_WIDTHS else "dynamic"


def compile_model(model: Decoder, mode: CompileMode, distinct_widths: int) -> torch.nn.Module:
    """Compile ``model``'s blocks and its loss in place (or not, for ``none``); returns it."""
    if mode == "none":
        return model
    config = torch._dynamo.config
    config.fail_on_recompile_limit_hit = True
    if mode == "dynamic":
        _mark_widths_dynamic(model)
    else:
        # Graphs of one block: a width (or no MLP) for training and for evaluation each, with
        # deterministic kernels or without (a process may train both ways).
        needed = 2 * 2 * (distinct_widths + 1)
        config.recompile_limit = max(config.recompile_limit, needed)
    for block in model.blocks:
        block.compile()
    # An instance attribute shadows the method, so forward() calls the compiled loss.
    model.loss = torch.compile(model.loss)  # type: ignore[method-assign]
    return model


def start_compile_workers() -> None:
    """Start Inductor's compile worker processes now, as its backend does at a process's first
    compile (no public call does; where Triton is missing or ``TORCH_WARM_POOL=0``, nothing)."""
    from torch._inductor.async_compile import maybe_warm_pool

    maybe_warm_pool()


def stop_compile_workers() -> None:
    """Shut Inductor's compile worker processes down now and wait for them, as torch does at a
    process's exit (no public call does). A later compile starts them again."""
    from torch._inductor.async_compile import shutdown_compile_workers

    shutdown_compile_workers()


@contextmanager
def compiled(model: Decoder, mode: CompileMode, distinct_widths: int) -> Iterator[torch.nn.Module]:
    """``compile_model`` for a run, undone after it (also after an error), so that the run's
    weights are freed as soon as nobody holds the model.

    Each compiled wrapper references its module (``nn.Module.compile`` keeps
    ``torch.compile(self._call_impl)`` on the module): a cycle that only Python's full collection
    frees. Measured on an H200, 0.2 to 0.7 GB of finished small runs stayed allocated until one;
    collecting after every run instead cost 0.45 s a trial.
    """
    try:
        yield compile_model(model, mode, distinct_widths)
    finally:
        for block in model.blocks:
            _drop_compiled_call(block)
        model.__dict__.pop("loss", None)


def warm_up_widths(
    config: ModelConfig,
    widths: tuple[int, ...],
    batch_size: int,
    device: torch.device,
    autocast: AbstractContextManager[object],
) -> None:
    """Compile what a run of ``config``'s shape whose layers have ``widths`` compiles (each width's
    block and the loss, for training and for evaluation, under the trainer's ``autocast`` and this
    process's deterministic setting), so that Inductor's on-disk cache then holds their kernels.

    For each width, one step of a decoder of one block of that width, called as the trainer calls
    it, so the graphs are the trainer's by construction, the loss's included. One block at a time
    holds a twelfth of a trial's activations, so a process doing this beside a trial needs little
    of its GPU (blocks compile one by one anyway). A process that changes ``torch.set_num_threads``
    compiles CPU kernels for that thread count: other processes then miss them.
    """
    model, ids = one_block_decoder(config, batch_size, device)
    for width in widths:
        use_width(model, width, device)
        with compiled(model, "static", config.budget.distinct_widths) as step_fn:
            step_and_evaluate(model, step_fn, ids, autocast)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _drop_compiled_call(module: torch.nn.Module) -> None:
    """Undo ``module.compile()``, which keeps a wrapper referencing the module on the module (the
    compiled code stays in Dynamo's cache, for the next module of this shape)."""
    module._compiled_call_impl = None


def _mark_widths_dynamic(model: Decoder) -> None:
    config = torch._dynamo.config
    # Parameter and module-property shapes are static by default, which compiles one graph
    # per width; layers of equal width would also share one symbol and guard on it.
    config.force_parameter_static_shapes = False
    config.force_nn_module_property_static_shapes = False
    fx_config.use_duck_shape = False
    for weight, dim in model.width_dims():
        torch._dynamo.mark_dynamic(weight, dim)
