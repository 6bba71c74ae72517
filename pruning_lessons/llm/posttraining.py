"""Post-training pruning of a language model from a little calibration text: no retraining.

Three pruners with the same comparison groups (each output row of each projection loses the
same share of its weights, or ``n`` of every ``m`` consecutive weights for N:M):

* :func:`row_magnitude_prune`: score ``|W_ij|`` (the baseline; needs no data).
* :func:`wanda_prune`: score ``|W_ij| * ||X_j||_2`` with ``X_j`` the j-th input feature over
  all calibration tokens; weights are only removed, never changed (Sun et al. 2023, "A Simple
  and Effective Pruning Approach for Large Language Models").
* :func:`sparsegpt_prune`: Optimal Brain Surgeon per row with the layer Hessian
  ``H = X^T X``: prune a weight, then move the remaining weights of its row to cancel the
  error it caused, column by column through a Cholesky factor of ``H^-1`` (Frantar & Alistarh
  2023, "SparseGPT: Massive Language Models Can Be Accurately Pruned in One-Shot").

Wanda and SparseGPT run block by block, as in both papers: the calibration activations pass
through the blocks already pruned, so each block is fitted to the inputs it will really get.
Within a block all projections see the block's dense inputs. The embedding and ``lm_head``
are left dense (as in the papers). Masks are installed with :func:`~pruning_lessons.install_mask`,
so the zeros hold through fine-tuning; existing masks are kept (nothing is un-pruned).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

import torch
from torch import nn

from ..weights.masks import get_masks, install_mask
from ..weights.nm import _check_nm, _keep_n_of_m
from .calibrate import InputStats, collect_inputs, linear_layers
from .model import PROJECTIONS

Target = tuple[float | None, tuple[int, int] | None]


# ---------------------------------------------------------------- checks


def check_target(amount: object, n_m: object) -> Target:
    """Exactly one of ``amount`` (fraction in [0, 1]) and ``n_m`` (``(n kept, m)``)."""
    if (amount is None) == (n_m is None):
        raise ValueError("give exactly one of amount (e.g. 0.5) and n_m (e.g. (2, 4))")
    if amount is not None:
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise TypeError(f"amount must be a float in [0, 1], got {type(amount).__name__}")
        if not 0.0 <= float(amount) <= 1.0:
            raise ValueError(
                f"amount must be in [0, 1] (fraction of each row pruned), got {amount}"
            )
        return float(amount), None
    if not isinstance(n_m, tuple | list) or len(n_m) != 2:
        raise TypeError(f"n_m must be a pair (n kept, m per group), e.g. (2, 4); got {n_m!r}")
    return None, _check_nm(*n_m)


def decoder_blocks(model: nn.Module) -> tuple[str, nn.ModuleList, nn.Embedding]:
    """``(name, blocks, embedding)`` of a LLaMA-style model, else a ``ValueError`` saying why.

    Looks for ``model.layers`` / ``model.embed_tokens`` (like :class:`TinyLlama`); every block
    must hold the seven projections ``q_proj ... down_proj``.
    """
    blocks, embed = getattr(model, "layers", None), getattr(model, "embed_tokens", None)
    if not isinstance(blocks, nn.ModuleList) or not isinstance(embed, nn.Embedding):
        raise ValueError(
            f"model ({type(model).__name__}) is not a LLaMA-style decoder: expected an "
            "nn.Embedding `embed_tokens` and an nn.ModuleList `layers` of blocks"
        )
    for i, block in enumerate(blocks):
        if isinstance(block, nn.Identity):
            continue
        found = {name.rpartition(".")[2] for name in linear_layers(block)}
        missing = [p for p in PROJECTIONS if p not in found]
        if missing:
            raise ValueError(
                f"block layers.{i} has no Linear named {missing} (needs {PROJECTIONS})"
            )
    return "layers", blocks, embed


def check_calibration(calibration: object, embed: nn.Embedding) -> torch.Tensor:
    """A ``(n, seq_len)`` integer tensor of token ids the model knows."""
    if not torch.is_tensor(calibration) or calibration.is_floating_point():
        raise TypeError(
            "calibration must be an integer tensor of token ids (n, seq_len), got "
            f"{type(calibration).__name__}"
            + (f" of {calibration.dtype}" if torch.is_tensor(calibration) else "")
        )
    if calibration.dim() != 2 or 0 in calibration.shape:
        raise ValueError(
            f"calibration must have shape (n sequences, seq_len) with both > 0, got "
            f"{tuple(calibration.shape)} (calibration_batches makes one)"
        )
    low, high = int(calibration.min()), int(calibration.max())
    if low < 0 or high >= embed.num_embeddings:
        raise ValueError(
            f"calibration holds token ids {low}..{high}; the model knows "
            f"0..{embed.num_embeddings - 1}"
        )
    return calibration


def _check_shapes(blocks: nn.ModuleList, n_m: tuple[int, int] | None, block_size: int) -> None:
    if n_m is None:
        return
    m = n_m[1]
    for i, block in enumerate(blocks):
        for name, layer in linear_layers(block).items():
            if layer.in_features % m:
                raise ValueError(
                    f"layers.{i}.{name} has {layer.in_features} inputs, not a multiple of m={m}"
                )
    if block_size % m:
        raise ValueError(f"block_size ({block_size}) must be a multiple of m={m}")


# ---------------------------------------------------------------- scores and masks


def wanda_scores(weight: torch.Tensor, input_norms: torch.Tensor) -> torch.Tensor:
    """``|W_ij| * ||X_j||_2``: weight magnitude times the norm of the input it multiplies."""
    return weight.detach().abs() * input_norms.to(weight.device, weight.dtype)[None, :]


def row_mask(
    scores: torch.Tensor,
    amount: float | None = None,
    n_m: tuple[int, int] | None = None,
    old: torch.Tensor | None = None,
) -> torch.Tensor:
    """Keep-mask pruning the lowest scores within each output row (or each N:M group).

    ``amount``: every row loses ``round(amount * in_features)`` weights. ``n_m = (n, m)``: every
    ``m`` consecutive weights of a row keep their ``n`` highest. Ties: the lower index is pruned
    first. Weights already pruned (``old`` False) count as the lowest, so they stay pruned.
    """
    scores = scores.detach().float()
    if old is not None:
        scores = torch.where(old, scores, torch.full_like(scores, -1.0))
    if n_m is not None:
        return _keep_n_of_m(scores, n_m[0], n_m[1], "weight")
    k = round(amount * scores.shape[1])
    lowest = torch.sort(scores, dim=1, stable=True).indices[:, :k]
    return torch.ones_like(scores, dtype=torch.bool).scatter_(1, lowest, False)


def sparsegpt_solve(
    weight: torch.Tensor,
    hessian: torch.Tensor,
    *,
    amount: float | None = None,
    n_m: tuple[int, int] | None = None,
    keep: torch.Tensor | None = None,
    old: torch.Tensor | None = None,
    block_size: int = 128,
    damp: float = 0.01,
) -> tuple[torch.Tensor, torch.Tensor]:
    """SparseGPT on one layer: ``(new weight, keep-mask)`` minimising ``||(W - W') X^T||^2``.

    ``hessian`` is ``X^T X`` over the calibration tokens. With ``U`` the upper Cholesky factor of
    ``(H + damp * mean(diag H) * I)^-1``, columns are processed left to right; pruning weight
    ``w_j`` of a row costs ``w_j^2 / U_jj^2`` (the OBS saliency given the columns already
    fixed) and its error ``e = w_j / U_jj`` is spread over the later columns as
    ``W[:, j:] -= e U[j, j:]`` (OBS's update). The mask is chosen block by block (``block_size``
    columns) after the earlier blocks' updates: each row prunes the same number of weights in a
    block (the totals add up to ``round(amount * in_features)`` per row), or ``n`` of every ``m``.
    ``keep`` fixes the mask instead (then only the weights are updated). Computes in at least
    float32; returns the weight in its own dtype.

    The column order is greedy: each removal is compensated only by later columns, including
    some that are pruned later. On independent inputs this always beat zeroing the same mask
    (tests); on strongly correlated inputs it can lose to it (a test keeps one such case).
    """
    dtype = torch.promote_types(weight.dtype, torch.float32)
    W = weight.detach().clone().to(dtype)
    H = hessian.detach().to(W.device, dtype).clone()
    cols = W.shape[1]
    dead = H.diagonal() == 0  # an input that was always zero: nothing to compensate with
    H[dead, dead] = 1.0
    H += damp * H.diagonal().mean() * torch.eye(cols, device=W.device, dtype=dtype)
    U = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)
    mask = torch.ones_like(W, dtype=torch.bool)
    for i1 in range(0, cols, block_size):
        i2 = min(i1 + block_size, cols)
        W1, U1 = W[:, i1:i2].clone(), U[i1:i2, i1:i2]
        d = U1.diagonal()
        err = torch.zeros_like(W1)
        old1 = None if old is None else old[:, i1:i2]
        if keep is not None:
            keep1 = keep[:, i1:i2].to(W.device, torch.bool)
        elif amount is not None:
            k = round(amount * i2) - round(amount * i1)
            keep1 = row_mask(W1.pow(2) / d.pow(2), amount=k / (i2 - i1), old=old1)
        else:
            keep1 = torch.ones_like(W1, dtype=torch.bool)
        for j in range(i2 - i1):
            if keep is None and n_m is not None and j % n_m[1] == 0:
                group = slice(j, j + n_m[1])
                saliency = W1[:, group].pow(2) / d[group].pow(2)
                keep1[:, group] = row_mask(
                    saliency, n_m=n_m, old=None if old1 is None else old1[:, group]
                )
            kept = W1[:, j] * keep1[:, j]
            err[:, j] = (W1[:, j] - kept) / d[j]
            W1[:, j:] -= err[:, j, None] * U1[j, j:][None, :]
            W1[:, j] = kept
        W[:, i1:i2] = W1
        W[:, i2:] -= err @ U[i1:i2, i2:]
        mask[:, i1:i2] = keep1
    return W.to(weight.dtype), mask


# ---------------------------------------------------------------- the sequential driver


def _run(block: nn.Module, x: torch.Tensor, chunk: int = 16) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([block(x[i : i + chunk]) for i in range(0, len(x), chunk)])


def _prune_blocks(
    model: nn.Module,
    calibration: torch.Tensor,
    prune_layer: Callable[[nn.Linear, InputStats, torch.Tensor | None], tuple],
    hessian: bool,
) -> dict[str, torch.Tensor]:
    """Prune a deep copy block by block on the calibration activations, then copy it back."""
    prefix, _, embed = decoder_blocks(model)
    calibration = check_calibration(calibration, embed)
    work = copy.deepcopy(model).eval()
    device = work.embed_tokens.weight.device
    x = _run(work.embed_tokens, calibration.to(device))
    old = get_masks(model)
    results = {}
    for i, block in enumerate(work.layers):
        layers = linear_layers(block)
        stats = collect_inputs(layers, lambda b=block, x=x: _run(b, x), hessian=hessian)
        for name, layer in layers.items():
            key = f"{prefix}.{i}.{name}.weight"
            new_weight, keep = prune_layer(layer, stats[name], old.get(key))
            with torch.no_grad():
                layer.weight.copy_(new_weight)
            install_mask(layer, "weight", keep)
            results[key] = (layer.weight.detach(), keep)
        x = _run(block, x)
    for key, (weight, keep) in results.items():  # nothing can fail from here on
        module = model.get_submodule(key.removesuffix(".weight"))
        with torch.no_grad():
            module.weight.copy_(weight)
        install_mask(module, "weight", keep)
    installed = get_masks(model)
    return {key: installed[key] for key in results}


def row_magnitude_prune(
    model: nn.Module, amount: float | None = None, *, n_m: tuple[int, int] | None = None
) -> dict[str, torch.Tensor]:
    """The baseline: prune the smallest ``|W_ij|`` of each row of every projection, in place.

    Same groups as :func:`wanda_prune` (per output row, or N:M), no calibration data. Returns
    the keep-masks by parameter name.
    """
    amount, n_m = check_target(amount, n_m)
    _, blocks, _ = decoder_blocks(model)
    _check_shapes(blocks, n_m, block_size=n_m[1] if n_m else 1)
    old = get_masks(model)
    masks = {}
    for i, block in enumerate(blocks):
        for name, layer in linear_layers(block).items():
            key = f"layers.{i}.{name}.weight"
            masks[key] = row_mask(layer.weight.abs(), amount, n_m, old.get(key))
    for key, keep in masks.items():
        install_mask(model.get_submodule(key.removesuffix(".weight")), "weight", keep)
    installed = get_masks(model)
    return {key: installed[key] for key in masks}


def wanda_prune(
    model: nn.Module,
    calibration: torch.Tensor,
    amount: float | None = None,
    *,
    n_m: tuple[int, int] | None = None,
) -> dict[str, torch.Tensor]:
    """Wanda, in place: prune the lowest ``|W_ij| * ||X_j||_2`` of each row; weights unchanged.

    ``calibration``: ``(n, seq_len)`` token ids (:func:`calibration_batches`). Give ``amount``
    (fraction of each row) or ``n_m=(2, 4)``. Returns the keep-masks by parameter name. On a bad
    argument a ``ValueError``/``TypeError`` is raised and ``model`` is unchanged.
    """
    amount, n_m = check_target(amount, n_m)
    _, blocks, _ = decoder_blocks(model)
    _check_shapes(blocks, n_m, block_size=n_m[1] if n_m else 1)

    def prune_layer(layer: nn.Linear, stats: InputStats, old: torch.Tensor | None) -> tuple:
        keep = row_mask(wanda_scores(layer.weight, stats.norms), amount, n_m, old)
        return layer.weight.detach(), keep

    return _prune_blocks(model, calibration, prune_layer, hessian=False)


def sparsegpt_prune(
    model: nn.Module,
    calibration: torch.Tensor,
    amount: float | None = None,
    *,
    n_m: tuple[int, int] | None = None,
    block_size: int = 128,
    damp: float = 0.01,
) -> dict[str, torch.Tensor]:
    """SparseGPT, in place: OBS pruning with weight updates, block by block.

    Each projection is solved by :func:`sparsegpt_solve`.

    Arguments as :func:`wanda_prune`, plus ``block_size`` (columns whose mask is chosen at
    once; lazy-update block) and ``damp`` (added to the Hessian's diagonal, as a fraction of its
    mean, so that it can be inverted). Returns the keep-masks by parameter name.
    """
    amount, n_m = check_target(amount, n_m)
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive int, got {block_size!r}")
    if isinstance(damp, bool) or not isinstance(damp, int | float) or not 0 <= damp < 1e6:
        raise ValueError(f"damp must be a non-negative number, got {damp!r}")
    _, blocks, _ = decoder_blocks(model)
    _check_shapes(blocks, n_m, block_size)

    def prune_layer(layer: nn.Linear, stats: InputStats, old: torch.Tensor | None) -> tuple:
        return sparsegpt_solve(
            layer.weight,
            stats.xtx,
            amount=amount,
            n_m=n_m,
            old=old,
            block_size=block_size,
            damp=float(damp),
        )

    return _prune_blocks(model, calibration, prune_layer, hessian=True)


METHODS = {"magnitude": None, "wanda": wanda_prune, "sparsegpt": sparsegpt_prune}


def prune_llm(
    model: nn.Module,
    method: str,
    calibration: torch.Tensor | None = None,
    amount: float | None = None,
    *,
    n_m: tuple[int, int] | None = None,
) -> float:
    """Prune with ``method`` (``"magnitude"``, ``"wanda"`` or ``"sparsegpt"``); return seconds."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    start = time.perf_counter()
    if method == "magnitude":
        row_magnitude_prune(model, amount, n_m=n_m)
    else:
        METHODS[method](model, calibration, amount, n_m=n_m)
    return time.perf_counter() - start
