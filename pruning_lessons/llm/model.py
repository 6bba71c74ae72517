"""A small LLaMA-style decoder: RMSNorm, rotary positions, SwiGLU MLP, grouped-query attention.

The module names are those of Hugging Face's ``LlamaForCausalLM`` (``q_proj``, ``k_proj``,
``v_proj``, ``o_proj``, ``gate_proj``, ``up_proj``, ``down_proj``, ``input_layernorm``,
``post_attention_layernorm``), so code written against this model reads like code for the real
one. Shapes are read from the weights at run time (the number of heads is
``q_proj.out_features // head_dim``), so a model whose heads, MLP width or blocks were removed
runs as it is; the structured pruner also replaces ``model.config`` by one with the new sizes
(``n_heads``, ``n_kv_heads``, ``hidden_dim``, ``dim``), so that ``TinyLlama(pruned.config)``
has the pruned shape.

One block computes (Touvron et al. 2023, "LLaMA")::

    h = x + o_proj(attention(rope(q_proj(n1(x))), rope(k_proj(n1(x))), v_proj(n1(x))))
    y = h + down_proj(silu(gate_proj(n2(h))) * up_proj(n2(h)))

where ``n1``, ``n2`` are RMSNorms: ``x / sqrt(mean(x^2) + eps) * weight`` (Zhang & Sennrich
2019). Under grouped-query attention (Ainslie et al. 2023) ``n_heads / n_kv_heads`` query heads
share one key/value head.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
CHECKPOINT = Path(__file__).resolve().parent / "weights" / "tiny_llama_stdlib.pt"


@dataclass(frozen=True)
class TinyLlamaConfig:
    """Sizes of a :class:`TinyLlama` (the defaults are the course's trained model)."""

    vocab_size: int = 256
    dim: int = 128
    n_layers: int = 6
    n_heads: int = 4
    n_kv_heads: int = 2
    head_dim: int = 32
    hidden_dim: int = 384
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5


class RMSNorm(nn.Module):
    """``x / sqrt(mean(x^2) + eps) * weight`` over the last dimension."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotary(x: torch.Tensor, theta: float) -> torch.Tensor:
    """Rotary position embedding (Su et al. 2021) of ``x``: (batch, heads, seq, head_dim).

    Each pair of dimensions ``(i, i + head_dim/2)`` is rotated by ``pos * theta**(-2i/head_dim)``.
    """
    half = x.shape[-1] // 2
    freq = theta ** (-torch.arange(half, device=x.device, dtype=torch.float32) / half)
    angle = torch.arange(x.shape[-2], device=x.device, dtype=torch.float32)[:, None] * freq
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


class Attention(nn.Module):
    """Causal multi-head attention with grouped-query key/value heads and rotary positions."""

    def __init__(self, cfg: TinyLlamaConfig) -> None:
        super().__init__()
        if cfg.n_heads % cfg.n_kv_heads:
            raise ValueError(
                f"n_heads ({cfg.n_heads}) must be a multiple of n_kv_heads ({cfg.n_kv_heads})"
            )
        self.head_dim, self.rope_theta = cfg.head_dim, cfg.rope_theta
        self.q_proj = nn.Linear(cfg.dim, cfg.n_heads * cfg.head_dim, bias=False)
        self.k_proj = nn.Linear(cfg.dim, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.v_proj = nn.Linear(cfg.dim, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.o_proj = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, -1, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, -1, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, -1, self.head_dim).transpose(1, 2)
        group = q.shape[1] // k.shape[1]  # query heads per key/value head
        q, k = rotary(q, self.rope_theta), rotary(k, self.rope_theta)
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1))


class MLP(nn.Module):
    """SwiGLU feed-forward (Shazeer 2020): ``down(silu(gate(x)) * up(x))``."""

    def __init__(self, cfg: TinyLlamaConfig) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(cfg.dim, cfg.hidden_dim, bias=False)
        self.up_proj = nn.Linear(cfg.dim, cfg.hidden_dim, bias=False)
        self.down_proj = nn.Linear(cfg.hidden_dim, cfg.dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    """Pre-norm decoder block: attention and MLP, each added to the residual stream."""

    def __init__(self, cfg: TinyLlamaConfig) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class TinyLlama(nn.Module):
    """Token ids ``(batch, seq)`` -> next-token logits ``(batch, seq, vocab_size)``."""

    def __init__(self, cfg: TinyLlamaConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = cfg or TinyLlamaConfig()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.lm_head = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        self.apply(_init)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.norm(x))


def _init(module: nn.Module) -> None:
    if isinstance(module, nn.Linear | nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)


def tiny_llama(cfg: TinyLlamaConfig | None = None, *, seed: int = 0) -> TinyLlama:
    """A freshly initialised :class:`TinyLlama` (weights drawn from ``seed``)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TinyLlama(cfg)


def load_tiny_llama(path: str | Path | None = None, device: str | torch.device | None = None):
    """The course's trained :class:`TinyLlama` (``benchmarks/train_tiny_llama.py`` made it).

    The file is a plain dict (config as ints and floats, a ``state_dict``, the training record)
    read with ``torch.load(..., weights_only=True)``. Returns the model in eval mode.
    """
    saved = torch.load(path or CHECKPOINT, weights_only=True, map_location="cpu")
    model = TinyLlama(TinyLlamaConfig(**saved["config"]))
    model.load_state_dict(saved["state_dict"])
    model.record = saved.get("record", {})
    return model.to(device or "cpu").eval()


def save_tiny_llama(model: TinyLlama, path: str | Path, record: dict | None = None) -> None:
    """Write ``model`` so that :func:`load_tiny_llama` can read it (no pickled code)."""
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    torch.save({"config": asdict(model.config), "state_dict": state, "record": record or {}}, path)
