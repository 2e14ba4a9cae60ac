"""A one-block decoder's training step and evaluation step, called as a trial calls its model.

Warming up runs these (``search.training.compiling.warm_up_widths`` compiled, per width, and
``search.training.kernel_warm_up`` eager), so what it compiles is what a trial will call. One
block holds a twelfth of a trial's activations.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import torch

from model.config import ModelConfig
from model.decoder import Block, Decoder


def one_block_decoder(
    config: ModelConfig, batch_size: int, device: torch.device
) -> tuple[Decoder, torch.Tensor]:
    """A decoder of ``config``'s shape on ``device``, and a batch of ``batch_size`` random
    sequences; give it its one block with :func:`use_width`."""
    with torch.device(device):
        return Decoder(config), torch.randint(0, config.vocab_size, (batch_size, config.context))


def use_width(model: Decoder, width: int, device: torch.device) -> None:
    """Make ``model``'s blocks one block of MLP width ``width``."""
    with torch.device(device):
        model.blocks = torch.nn.ModuleList([Block.of_width(model.config, width)])


def step_and_evaluate(
    model: Decoder,
    call: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    ids: torch.Tensor,
    autocast: AbstractContextManager[object],
) -> None:
    """One training step's forward and backward, then one evaluation, through ``call`` (the model
    or its compiled form) under the trainer's ``autocast``."""
    model.train()
    with autocast:
        loss = call(ids, ids)
    loss.backward()
    model.eval()
    with torch.no_grad(), autocast:
        call(ids, ids)
