"""The decoder a ModelConfig describes: RMSNorm, rotary attention, a SwiGLU MLP of each layer's own width.

Shapes in comments: B batch, T time, C d_model, H heads, D head dim (C // H), W a layer's MLP
width, V vocabulary.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from model.config import ModelConfig
from model.head_loss import head_loss
from model.rotary import rotary_qkv, rotary_tables
from model.swiglu import swiglu


class Attention(nn.Module):
    """Causal multi-head self-attention with rotary positions (flash kernels on GPU)."""

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.out = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = rotary_qkv(self.qkv(x), cos, sin, self.n_heads)  # (B, T, H, D) each; q, k rotated
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, T, D)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, D)
        return self.out(y.transpose(1, 2).reshape(B, T, C))  # (B, T, C)


class SwiGLU(nn.Module):
    """down(silu(gate(x)) * up(x)); gate and up share one matmul."""

    def __init__(self, d_model: int, width: int) -> None:
        super().__init__()
        self.gate_up = nn.Linear(d_model, 2 * width, bias=False)
        self.down = nn.Linear(width, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(swiglu(self.gate_up(x)))  # (B, T, 2W) -> (B, T, W) -> (B, T, C)


class Block(nn.Module):
    """One decoder layer. ``width`` 0 makes it attention-only (no MLP, no MLP norm)."""

    def __init__(self, d_model: int, n_heads: int, width: int, parallel: bool) -> None:
        super().__init__()
        self.parallel = parallel
        self.attn_norm = nn.RMSNorm(d_model, eps=1e-6)
        self.attn = Attention(d_model, n_heads)
        self.mlp = SwiGLU(d_model, width) if width else None
        # GPT-J's parallel block feeds one normalized input to both branches.
        self.mlp_norm = nn.RMSNorm(d_model, eps=1e-6) if width and not parallel else None

    @classmethod
    def of_width(cls, config: ModelConfig, width: int) -> Block:
        """A layer of ``config``'s shape and style with MLP width ``width``."""
        return cls(config.d_model, config.n_heads, width, config.residual == "parallel")

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        if self.parallel:
            h = self.attn_norm(x)
            mlp_out = self.mlp(h) if self.mlp is not None else 0
            return x + self.attn(h, cos, sin) + mlp_out
        x = x + self.attn(self.attn_norm(x), cos, sin)
        if self.mlp is not None and self.mlp_norm is not None:
            x = x + self.mlp(self.mlp_norm(x))
        return x


class Decoder(nn.Module):
    """A decoder language model built from a validated ModelConfig."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        C = config.d_model
        self.embed = nn.Embedding(config.vocab_size, C)
        self.blocks = nn.ModuleList(Block.of_width(config, width) for width in config.mlp_widths)
        self.final_norm = nn.RMSNorm(C, eps=1e-6)
        self.head = nn.Linear(C, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.head.weight = self.embed.weight
        cos, sin = rotary_tables(config.context, config.head_dim)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def init_weights(self, std: float) -> None:
        """Normal(0, std) weights; output projections scaled down by sqrt(2 x layers) (GPT-2)."""
        residual_std = std / math.sqrt(2 * self.config.n_layers)
        for name, p in self.named_parameters():
            if p.dim() < 2:
                nn.init.ones_(p)
            elif name.endswith(("attn.out.weight", "mlp.down.weight")):
                nn.init.normal_(p, 0.0, residual_std)
            else:
                nn.init.normal_(p, 0.0, std)

    def width_dims(self) -> list[tuple[nn.Parameter, int]]:
        """(weight, dim) wherever a size is a layer's MLP width: gate_up's rows (2W), down's columns (W)."""
        return [
            pair
            for block in self.blocks
            if block.mlp is not None
            for pair in ((block.mlp.gate_up.weight, 0), (block.mlp.down.weight, 1))
        ]

    def trunk(self, idx: torch.Tensor) -> torch.Tensor:
        """The residual stream (B, T, C) after the last block, for token ids idx (B, T)."""
        T = idx.size(1)
        cos, sin = self.rope_cos[:T], self.rope_sin[:T]  # (T, D/2)
        x = self.embed(idx)  # (B, T, C)
        for block in self.blocks:
            x = block(x, cos, sin)
        return x

    def loss(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean next-token cross-entropy (nats) of targets (B, T) given the residual stream x."""
        return head_loss(self.final_norm(x), self.head.weight, targets)  # over logits (B, T, V)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean next-token cross-entropy (nats) of targets (B, T) given idx (B, T)."""
        return self.loss(self.trunk(idx), targets)
