"""SliceGPT: rotate the residual stream, then slice the embedding dimension (Ashkboos et al.
2024, "SliceGPT: Compress Large Language Models by Deleting Rows and Columns").

A pre-norm transformer keeps one residual stream ``x`` (``dim`` wide) that every block reads
through an RMSNorm and writes to by adding ``o_proj`` and ``down_proj`` outputs. Three steps:

1. **Fold the norms.** ``RMSNorm(x) = x / rms(x) * alpha``; the scale ``alpha`` moves into the
   linears that read the norm (``W <- W diag(alpha)``: ``q/k/v_proj``, ``gate/up_proj``,
   ``lm_head``) and the norm becomes ``x / rms(x)``, which commutes with any orthogonal ``Q``:
   ``||x Q|| = ||x||``. The model computes the same function.
2. **Rotate.** With orthogonal ``Q`` (``dim x dim``) the stream becomes ``x Q``: the embedding
   ``E <- E Q``, every reader ``W <- W Q`` (input side), every writer ``W <- Q^T W`` (output
   side: ``o_proj``, ``down_proj``). Still the same function (equal up to rounding).
3. **Slice.** ``Q`` holds the principal directions of the stream on calibration text (PCA:
   eigenvectors of ``sum_t z_t^T z_t`` over tokens, largest eigenvalue first), so the last
   columns carry the least signal. Keeping ``Q[:, :d]`` deletes rows of the embedding and the
   writers and columns of the readers: every matrix is smaller and dense.

The paper computes a separate ``Q`` for each block (from the already sliced earlier blocks) and
puts ``Q_l^T Q_(l+1)`` on every residual shortcut. This module uses **one global Q** for the
whole stream, so no shortcut matrices are needed and the sliced model is a plain
:class:`~pruning_lessons.llm.model.TinyLlama` with ``dim = d``; the PCA pools the normalised
stream ``z = x / rms(x)`` at every point a norm reads it (each block's two norms and the
final one), which is what the readers see. After slicing, ``rms`` must still divide by the
original ``dim`` (as the paper's code does): a norm of width ``d`` with weight
``sqrt(dim / d)`` and ``eps * dim / d`` computes exactly that.
"""

from __future__ import annotations

import copy
import dataclasses

import torch
from torch import nn
from torch.nn.utils import parametrize

from ..weights.masks import get_masks
from .decoder import check_token_ids
from .model import TinyLlama

READERS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj")
MLP_READERS = ("mlp.gate_proj", "mlp.up_proj")
WRITERS = ("self_attn.o_proj", "mlp.down_proj")


def _check_model(model: object) -> TinyLlama:
    if not isinstance(model, TinyLlama):
        raise TypeError(
            "slicegpt works on the course's TinyLlama (pruning_lessons.llm.TinyLlama), got "
            f"{type(model).__name__}"
        )
    masked = list(get_masks(model)) + [
        name
        for name, module in model.named_modules()
        if parametrize.is_parametrized(module)
        or any(n.endswith("_orig") for n, _ in module.named_parameters(recurse=False))
    ]
    if masked:
        raise ValueError(
            f"slicegpt: {masked[0]} carries a pruning mask; rotating would fill its zeros: "
            "slice a dense model, or call pl.bake_masks first (its zeros then need not stay zero)"
        )
    if any(isinstance(block, nn.Identity) for block in model.layers):
        raise ValueError("slicegpt: the model has dropped blocks (nn.Identity); slice it first")
    return model


def fold_norms(model: TinyLlama) -> TinyLlama:
    """A copy of ``model`` with every RMSNorm's scale folded into the linears that read it.

    Afterwards every norm's weight is 1 and the copy computes the same function.
    """
    folded = copy.deepcopy(_check_model(model))
    with torch.no_grad():
        for block in folded.layers:
            pairs = (
                (block.input_layernorm, READERS),
                (block.post_attention_layernorm, MLP_READERS),
            )
            for norm, readers in pairs:
                for name in readers:
                    block.get_submodule(name).weight.mul_(norm.weight)
                norm.weight.fill_(1.0)
        folded.lm_head.weight.mul_(folded.norm.weight)
        folded.norm.weight.fill_(1.0)
    return folded


def residual_pca(model: TinyLlama, calibration: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (descending) and eigenvectors ``Q`` (columns) of the normalised stream.

    ``sum_t z_t z_t^T`` with ``z = x / rms(x)`` over every calibration token at every norm's
    input (float64); the eigenvalues sum to the pooled energy, ``Q`` is orthogonal.
    """
    model = _check_model(model)
    calibration = check_token_ids(calibration, model.embed_tokens)
    norms = [m for b in model.layers for m in (b.input_layernorm, b.post_attention_layernorm)]
    dim = model.embed_tokens.embedding_dim
    cov = torch.zeros(dim, dim, dtype=torch.float64, device=model.embed_tokens.weight.device)

    def collect(norm: nn.Module, args: tuple) -> None:
        x = args[0].detach().reshape(-1, dim).double()
        z = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + norm.eps)
        cov.add_(z.T @ z)

    hooks = [m.register_forward_pre_hook(collect) for m in (*norms, model.norm)]
    try:
        with torch.no_grad():
            model(calibration)
    finally:
        for hook in hooks:
            hook.remove()
    values, vectors = torch.linalg.eigh(cov)
    return values.flip(0), vectors.flip(1)


def rotate(model: TinyLlama, q: torch.Tensor) -> TinyLlama:
    """A new model whose residual stream is ``x @ q`` (``q``: ``dim x d``, orthonormal columns).

    The norms of ``model`` are folded first. With a square orthogonal ``q`` the result computes
    the same function; with ``d < dim`` columns the stream is sliced to ``d`` dimensions.
    """
    folded = fold_norms(model)
    dim = folded.embed_tokens.embedding_dim
    if not torch.is_tensor(q) or q.dim() != 2 or q.shape[0] != dim or not 1 <= q.shape[1] <= dim:
        got = tuple(q.shape) if torch.is_tensor(q) else type(q).__name__
        raise ValueError(f"q must be a ({dim}, d) matrix with 1 <= d <= {dim}, got {got}")
    d = q.shape[1]
    gram = q.double().T @ q.double()
    if not torch.allclose(gram, torch.eye(d, dtype=gram.dtype, device=gram.device), atol=1e-4):
        raise ValueError("q must have orthonormal columns (q^T q = I): a rotation, then a slice")
    cfg = folded.config
    sliced = TinyLlama(dataclasses.replace(cfg, dim=d, norm_eps=cfg.norm_eps * dim / d))
    q = q.double()

    def reader(w: torch.Tensor) -> torch.Tensor:  # W Q: input side
        return (w.double() @ q).to(w.dtype)

    def writer(w: torch.Tensor) -> torch.Tensor:  # Q^T W: output side
        return (q.T @ w.double()).to(w.dtype)

    state = {}
    for key, w in folded.state_dict().items():
        name = key.removesuffix(".weight")
        if key == "embed_tokens.weight":
            state[key] = reader(w)  # rows are token vectors: E Q
        elif key == "lm_head.weight" or name.endswith(READERS + MLP_READERS):
            state[key] = reader(w)
        elif name.endswith(WRITERS):
            state[key] = writer(w)
        else:  # a norm, scale-free after folding: keep rms over the original dim
            state[key] = torch.full((d,), (dim / d) ** 0.5, dtype=w.dtype)
    sliced.to(folded.embed_tokens.weight.device).load_state_dict(state)
    sliced.record = dict(getattr(model, "record", {}), sliced_from=dim)
    return sliced.eval()


def slice_model(model: TinyLlama, calibration: torch.Tensor, slicing: float) -> TinyLlama:
    """SliceGPT: a new model with ``round(slicing * dim)`` fewer residual dimensions.

    Folds the norms, rotates by the PCA of the normalised stream (:func:`residual_pca`) and
    keeps the top ``dim - round(slicing * dim)`` directions. ``slicing=0`` rotates only (the
    same function). ``model`` is unchanged.
    """
    _check_model(model)
    if isinstance(slicing, bool) or not isinstance(slicing, int | float):
        raise TypeError(f"slicing must be a float in [0, 1), got {type(slicing).__name__}")
    if not 0.0 <= float(slicing) < 1.0:
        raise ValueError(f"slicing must be in [0, 1) (share of dim removed), got {slicing}")
    dim = model.embed_tokens.embedding_dim
    keep = dim - round(float(slicing) * dim)
    if keep < 1:
        raise ValueError(f"slicing {slicing} of dim {dim} leaves no dimension")
    _, q = residual_pca(model, calibration)
    return rotate(model, q[:, :keep])
