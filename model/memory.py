"""A conservative estimate of a training run's peak GPU memory, from the config alone (no torch)."""

from __future__ import annotations

from model.config import ModelConfig

# fp32 weights, fp32 gradients and AdamW's two fp32 moments.
_BYTES_PER_PARAM = 16
# Activations kept for the backward pass under bf16 autocast, per token: about 30 bytes per
# residual channel (fp32 residual, norms, q/k/v, attention output) and 8 per MLP neuron
# (gate, up, their product), plus bf16 logits with their fp32 copy and gradient.
_BYTES_PER_CHANNEL = 30
_BYTES_PER_NEURON = 8
_BYTES_PER_LOGIT = 10
# Allocator fragmentation, workspaces and kernels' scratch space.
_SLACK = 1.25


def estimate_training_bytes(config: ModelConfig, batch_size: int) -> int:
    """Bytes of GPU memory a training step of ``batch_size`` sequences is expected to need at peak."""
    tokens = batch_size * config.context
    per_token = sum(_BYTES_PER_CHANNEL * config.d_model + _BYTES_PER_NEURON * w for w in config.mlp_widths)
    per_token += _BYTES_PER_LOGIT * config.vocab_size
    return int(_SLACK * (_BYTES_PER_PARAM * config.params + per_token * tokens))
