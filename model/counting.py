"""The built decoder's parameter count, checked against its config's before anything trains."""

from __future__ import annotations

import torch

from model.config import ModelConfig
from model.decoder import Decoder


def built_params(config: ModelConfig) -> int:
    """Parameters of the Decoder ``config`` builds, counted on the meta device (no memory, no
    init); a tied output head shares the embedding's weight and is counted once."""
    with torch.device("meta"):
        model = Decoder(config)
    return sum(p.numel() for p in model.parameters())


def check_built_params(config: ModelConfig) -> None:
    """ValueError when the decoder ``config`` builds does not have the parameters the config counts
    (and its budget proof relies on)."""
    built = built_params(config)
    if built != config.params:
        raise ValueError(
            f"the decoder built from this config has {built:,} parameters, the config counts "
            f"{config.params:,} ({built - config.params:+,}; MLP widths {list(config.mlp_widths)}): "
            "model/decoder.py and the count in model/config.py disagree, so the budget is not proved"
        )
