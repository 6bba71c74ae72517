"""Post-training pruning of a language model from a little calibration text: no retraining.

Three pruners, for the course's :class:`TinyLlama` and any decoder-only ``transformers`` causal
LM (:func:`~pruning_lessons.llm.decoder.find_decoder` finds the blocks). Every linear layer
inside the blocks is pruned (attention and MLP, fused ones too); embeddings, final norm and
head stay dense, as in the papers:

* :func:`row_magnitude_prune`: score ``|W_ij|``, per output row (the baseline; needs no data).
* :func:`wanda_prune`: score ``|W_ij| * ||X_j||_2`` with ``X_j`` the j-th input feature over
  all calibration tokens, compared within each output row; weights are only removed, never
  changed (Sun et al. 2023, "A Simple and Effective Pruning Approach for Large Language Models").
* :func:`sparsegpt_prune`: Optimal Brain Surgeon with the layer Hessian ``H = X^T X``: prune a
  weight, then move the remaining weights of its row to cancel the error it caused, column by
  column through a Cholesky factor of ``H^-1`` (Frantar & Alistarh 2023, "SparseGPT: Massive
  Language Models Can Be Accurately Pruned in One-Shot").

All run in place, block by block (``llm.sequential``): the calibration activations pass through
the blocks already pruned, so each block is fitted to the inputs it will really get; one block
at a time runs on ``device=`` while the others stay where they are. ``copy=True`` prunes and
returns a copy instead. ``amount`` is a fraction in [0, 1), or a dict giving layers (or whole
blocks, by name prefix) their own amounts; ``owl=True`` takes per-block amounts from the
outlier ratios (:func:`~pruning_lessons.llm.owl.owl_sparsities`). Masks are installed with
:func:`~pruning_lessons.install_mask`, so the zeros hold through fine-tuning (``masks=False``
writes only the zeros: a bool mask costs half the memory of fp16 weights); existing masks are
kept (nothing is un-pruned). The memory model is in ``llm.sequential``. Every argument is
checked before any change.
"""

from __future__ import annotations

import copy as copying
import time

import torch
from torch import nn

from ..weights.nm import _keep_n_of_m
from .calibrate import InputStats, linear_layers
from .decoder import Decoder, check_token_ids, find_decoder, weight_matrix
from .model import PROJECTIONS
from .sequential import prune_sequentially
from .targets import (
    MASK_RULES,
    check_device,
    check_shapes,
    check_target,
    layer_amounts,
)

# ---------------------------------------------------------------- the course model's checks


def decoder_blocks(model: nn.Module) -> tuple[str, nn.ModuleList, nn.Embedding]:
    """``(name, blocks, embedding)`` of a LLaMA-style model, else a ``ValueError`` saying why.

    For the width and depth tools, which need :class:`TinyLlama`'s layout: ``model.layers``,
    ``model.embed_tokens``, the seven projections ``q_proj ... down_proj`` in every block.
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
    """A ``(n, seq_len)`` int32/int64 tensor of token ids the model knows."""
    return check_token_ids(calibration, embed)


# ---------------------------------------------------------------- scores and masks


def wanda_scores(weight: torch.Tensor, input_norms: torch.Tensor) -> torch.Tensor:
    """``|W_ij| * ||X_j||_2``: weight magnitude times the norm of the input it multiplies."""
    return weight.detach().abs() * input_norms.to(weight.device, weight.dtype)[None, :]


def _lowest(scores: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Keep-mask pruning the ``counts[r]`` lowest scores of row ``r`` (ties: lower index first)."""
    order = torch.sort(scores, dim=1, stable=True).indices
    ranks = torch.arange(scores.shape[1], device=scores.device)[None, :]
    return torch.ones_like(scores, dtype=torch.bool).scatter_(1, order, ranks >= counts[:, None])


def row_mask(
    scores: torch.Tensor,
    amount: float | None = None,
    n_m: tuple[int, int] | None = None,
    old: torch.Tensor | None = None,
) -> torch.Tensor:
    """Keep-mask pruning the lowest scores within each output row (or each N:M group).

    ``amount``: every row loses ``round(amount * in_features)`` weights. ``n_m = (n, m)``: every
    ``m`` consecutive weights of a row keep their ``n`` highest. Ties: the lower index is pruned
    first. Weights already pruned (``old`` False) count as the lowest and stay pruned (a row
    that already has more zeros keeps them all).
    """
    scores = scores.detach().float()
    if old is not None:
        scores = torch.where(old, scores, torch.full_like(scores, -1.0))
    if n_m is not None:
        keep = _keep_n_of_m(scores, n_m[0], n_m[1], "weight")
        return keep if old is None else keep & old
    k = torch.full((scores.shape[0],), round(amount * scores.shape[1]), device=scores.device)
    if old is not None:
        k = torch.maximum(k, (~old).sum(1))
    return _lowest(scores, k)


def tile_mask(scores: torch.Tensor, k: int, old: torch.Tensor | None = None) -> torch.Tensor:
    """Keep-mask pruning the ``k`` lowest scores of the whole tile: one threshold, rows differ.

    Ties: the lower index in row-major order first. Weights already pruned stay pruned.
    """
    flat = scores.detach().float().reshape(1, -1)
    if old is not None:
        flat = torch.where(old.reshape(1, -1), flat, torch.full_like(flat, -1.0))
        k = max(k, int((~old).sum()))
    return _lowest(flat, torch.tensor([k], device=flat.device)).reshape(scores.shape)


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
    mask_rule: str = "block",
) -> tuple[torch.Tensor, torch.Tensor]:
    """SparseGPT on one layer: ``(new weight, keep-mask)`` minimising ``||(W - W') X^T||^2``.

    ``hessian`` is ``X^T X`` over the calibration tokens. With ``U`` the upper Cholesky factor of
    ``(H + damp * mean(diag H) * I)^-1``, columns are processed left to right; pruning weight
    ``w_j`` of a row costs ``w_j^2 / U_jj^2`` (the OBS saliency given the columns already
    fixed) and its error ``e = w_j / U_jj`` is spread over the later columns as
    ``W[:, j:] -= e U[j, j:]`` (OBS's update). The mask is chosen block by block (``block_size``
    columns) after the earlier blocks' updates, by ``mask_rule``:

    * ``"block"`` (the paper's rule and its reference code's): one threshold over the whole
      ``rows x block_size`` tile, so rows may lose different numbers of weights; the tile loses
      ``round(amount * rows * i2) - round(amount * rows * i1)`` (columns ``i1..i2``), so the
      layer loses exactly ``round(amount * rows * in_features)``;
    * ``"row"``: each row loses the same number in every tile (adding up to
      ``round(amount * in_features)`` per row), the comparison group of Wanda.

    Under ``n_m`` every ``m`` consecutive weights of a row keep ``n`` (chosen when the solver
    reaches them). ``keep`` fixes the mask instead (then only the weights are updated). Computes
    in at least float32; returns the weight in its own dtype.

    The column order is greedy: each removal is compensated only by later columns, including
    some that are pruned later. On independent inputs this always beat zeroing the same mask
    (tests); on strongly correlated inputs it can lose to it (a test keeps one such case).
    """
    if mask_rule not in MASK_RULES:
        raise ValueError(f"mask_rule must be one of {MASK_RULES}, got {mask_rule!r}")
    dtype = torch.promote_types(weight.dtype, torch.float32)
    W = weight.detach().clone().to(dtype)
    H = hessian.detach().to(W.device, dtype).clone()
    rows, cols = W.shape
    dead = H.diagonal() == 0  # an input that was always zero: nothing to compensate with
    H[dead, dead] = 1.0
    H += damp * H.diagonal().mean() * torch.eye(cols, device=W.device, dtype=dtype)
    U = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)
    del H
    mask = torch.ones_like(W, dtype=torch.bool)
    for i1 in range(0, cols, block_size):
        i2 = min(i1 + block_size, cols)
        W1, U1 = W[:, i1:i2].clone(), U[i1:i2, i1:i2]
        d = U1.diagonal()
        err = torch.zeros_like(W1)
        old1 = None if old is None else old[:, i1:i2].to(W.device, torch.bool)
        if keep is not None:
            keep1 = keep[:, i1:i2].to(W.device, torch.bool)
        elif amount is not None and mask_rule == "row":
            k = round(amount * i2) - round(amount * i1)
            keep1 = row_mask(W1.pow(2) / d.pow(2), amount=k / (i2 - i1), old=old1)
        elif amount is not None:
            k = round(amount * rows * i2) - round(amount * rows * i1)
            keep1 = tile_mask(W1.pow(2) / d.pow(2), k, old=old1)
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


# ---------------------------------------------------------------- the pruners


def _prepare(
    model: nn.Module,
    calibration: object,
    amount: object,
    n_m: object,
    *,
    owl: object,
    copy: object,
    device: object,
    masks: object = True,
    block_size: int | None = None,
    needs_data: bool = True,
) -> tuple[nn.Module, Decoder, torch.Tensor | None, dict, torch.device | None]:
    """Check every argument (nothing changes on an error); then the model to prune (a copy with
    ``copy=True``), its parts, the calibration, each layer's amount and the device."""
    amount, n_m = check_target(amount, n_m)
    decoder = find_decoder(model)
    if not isinstance(owl, bool):
        raise TypeError(f"owl must be True or False, got {owl!r}")
    if not isinstance(copy, bool):
        raise TypeError(f"copy must be True or False, got {copy!r}")
    if not isinstance(masks, bool):
        raise TypeError(f"masks must be True or False, got {masks!r}")
    if owl and n_m is not None:
        raise ValueError("owl=True sets per-block fractions: give amount=..., not n_m")
    if owl and isinstance(amount, dict):
        raise ValueError("owl=True computes the per-block amounts: give one float amount")
    device = check_device(device)
    if needs_data or owl or calibration is not None:
        calibration = check_token_ids(calibration, decoder.embedding)
    layers = decoder.all_layers()
    check_shapes(layers, n_m, block_size)
    amounts = layer_amounts(layers, amount, n_m)
    if owl:
        from .owl import check_owl_target

        check_owl_target(amount)
    if copy:
        model = copying.deepcopy(model)
        decoder = find_decoder(model)
    if owl:
        from .owl import owl_sparsities

        per_block = owl_sparsities(model, calibration, amount, device=device)
        amounts = layer_amounts(decoder.all_layers(), per_block, None)
    return model, decoder, calibration, amounts, device


def _result(model: nn.Module, masks: dict, copy: bool):
    return model if copy else masks


def row_magnitude_prune(
    model: nn.Module,
    amount: float | dict[str, float] | None = None,
    *,
    n_m: tuple[int, int] | None = None,
    owl: bool = False,
    calibration: torch.Tensor | None = None,
    copy: bool = False,
    device: str | torch.device | None = None,
    masks: bool = True,
    progress: bool = False,
):
    """The baseline: prune the smallest ``|W_ij|`` of each row of every block layer, in place.

    Same groups as :func:`wanda_prune` (per output row, or N:M), no calibration data (except
    with ``owl=True``, whose outlier ratios need some). Returns the keep-masks by parameter
    name, or the pruned copy with ``copy=True``.
    """
    model, decoder, calibration, amounts, _ = _prepare(
        model,
        calibration,
        amount,
        n_m,
        owl=owl,
        copy=copy,
        device=device,
        masks=masks,
        needs_data=False,
    )

    def prune_layer(name, layer, stats, old, share):
        return None, row_mask(weight_matrix(layer).abs(), share, n_m, old)

    result = prune_sequentially(
        model, decoder, None, prune_layer, amounts, keep_masks=masks, progress=progress
    )
    return _result(model, result, copy)


def wanda_prune(
    model: nn.Module,
    calibration: torch.Tensor,
    amount: float | dict[str, float] | None = None,
    *,
    n_m: tuple[int, int] | None = None,
    owl: bool = False,
    copy: bool = False,
    device: str | torch.device | None = None,
    masks: bool = True,
    progress: bool = False,
):
    """Wanda, in place: prune the lowest ``|W_ij| * ||X_j||_2`` of each row; weights unchanged.

    ``calibration``: ``(n, seq_len)`` int64/int32 token ids (:func:`calibration_batches`). Give
    ``amount`` (fraction of each row, or a dict by layer / block name) or ``n_m=(2, 4)``;
    ``owl=True`` for OWL's per-block amounts. Returns the keep-masks by parameter name (the
    pruned copy with ``copy=True``). On a bad argument a ``ValueError``/``TypeError`` is raised
    and ``model`` is unchanged.
    """
    model, decoder, calibration, amounts, device = _prepare(
        model, calibration, amount, n_m, owl=owl, copy=copy, device=device, masks=masks
    )

    def prune_layer(name, layer, stats: InputStats, old, share):
        keep = row_mask(wanda_scores(weight_matrix(layer), stats.norms), share, n_m, old)
        return None, keep

    result = prune_sequentially(
        model,
        decoder,
        calibration,
        prune_layer,
        amounts,
        device=device,
        keep_masks=masks,
        progress=progress,
    )
    return _result(model, result, copy)


def sparsegpt_prune(
    model: nn.Module,
    calibration: torch.Tensor,
    amount: float | dict[str, float] | None = None,
    *,
    n_m: tuple[int, int] | None = None,
    block_size: int = 128,
    damp: float = 0.01,
    mask_rule: str = "block",
    owl: bool = False,
    copy: bool = False,
    device: str | torch.device | None = None,
    masks: bool = True,
    progress: bool = False,
):
    """SparseGPT, in place: OBS pruning with weight updates, block by block.

    Each layer is solved by :func:`sparsegpt_solve`. Arguments as :func:`wanda_prune`, plus
    ``block_size`` (columns whose mask is chosen at once; lazy-update block), ``damp`` (added to
    the Hessian's diagonal, as a fraction of its mean, so that it can be inverted) and
    ``mask_rule``: ``"block"`` (the paper's: one threshold per ``block_size`` columns, rows may
    differ) or ``"row"`` (every row loses the same share). Returns the keep-masks by parameter
    name (the pruned copy with ``copy=True``).
    """
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive int, got {block_size!r}")
    if isinstance(damp, bool) or not isinstance(damp, int | float) or not 0 <= damp < 1e6:
        raise ValueError(f"damp must be a non-negative number, got {damp!r}")
    if mask_rule not in MASK_RULES:
        raise ValueError(f"mask_rule must be one of {MASK_RULES}, got {mask_rule!r}")
    model, decoder, calibration, amounts, device = _prepare(
        model,
        calibration,
        amount,
        n_m,
        owl=owl,
        copy=copy,
        device=device,
        masks=masks,
        block_size=block_size,
    )

    def prune_layer(name, layer, stats: InputStats, old, share):
        return sparsegpt_solve(
            weight_matrix(layer),
            stats.xtx,
            amount=share,
            n_m=n_m,
            old=old,
            block_size=block_size,
            damp=float(damp),
            mask_rule=mask_rule,
        )

    result = prune_sequentially(
        model,
        decoder,
        calibration,
        prune_layer,
        amounts,
        hessian=True,
        device=device,
        keep_masks=masks,
        progress=progress,
    )
    return _result(model, result, copy)


METHODS = {"magnitude": row_magnitude_prune, "wanda": wanda_prune, "sparsegpt": sparsegpt_prune}


def prune_llm(
    model: nn.Module,
    method: str,
    calibration: torch.Tensor | None = None,
    amount: float | dict[str, float] | None = None,
    *,
    n_m: tuple[int, int] | None = None,
    **options,
) -> float:
    """Prune in place with ``method`` (``"magnitude"``, ``"wanda"`` or ``"sparsegpt"``).

    ``options`` go to the pruner (``owl``, ``device``, SparseGPT's ``mask_rule``...). Returns
    the seconds it took.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    if options.get("copy") is True:
        raise ValueError("prune_llm prunes in place; call the pruner itself with copy=True")
    start = time.perf_counter()
    if method == "magnitude":
        row_magnitude_prune(model, amount, n_m=n_m, calibration=calibration, **options)
    else:
        METHODS[method](model, calibration, amount, n_m=n_m, **options)
    return time.perf_counter() - start
