"""Width pruning of a language model: attention heads, MLP neurons, embedding channels.

Minitron (Muralidharan et al. 2024, "Compact Language Models via Pruning and Knowledge
Distillation") ranks each kind of unit by the size of its *activations* on a little
calibration text, removes the weakest, and recovers by distillation. Here a unit's score is

    score_u = (1/B) * sum_b sqrt( sum_t sum_{e in u} a_{b,t,e}^2 )

the L2 norm of the unit's activations ``a`` over the tokens ``t`` (and over the unit's entries
``e``) of each calibration sequence ``b``, averaged over the ``B`` sequences. The activation
``a`` is, by kind:

* **head** (:func:`prune_heads`): the attention output entering ``o_proj``, restricted to the
  head's columns. Under grouped-query attention a unit is one key/value head with all the
  query heads that share it, so ``e`` runs over those query heads' columns;
* **MLP neuron** (:func:`prune_mlp_width`): the input of ``down_proj``,
  ``silu(gate_proj(x)) * up_proj(x)``, one column per neuron;
* **embedding channel** (:func:`prune_model_width`): the output of every RMSNorm of the
  residual stream (each block's two and the final one), one channel each; the score is the
  sum of the per-norm scores above.

Minitron sums activations over batch and sequence; a norm is used here so that positive and
negative activations of the same size count alike.

Removing the units is not done here: :func:`~pruning_lessons.prune_units` does it, with these
scores as its ``importance`` and a ``{layer: amount}`` dict that names only the layers of the
chosen kind (every other unit is kept). So the slicing of ``q_proj`` / ``k_proj`` / ``v_proj``
rows and ``o_proj`` columns, of ``gate_proj`` / ``up_proj`` rows and ``down_proj`` columns, or
of every tensor touching the residual stream, is the structured pruner's, and the counts are
its counts: ``round(amount * n)`` units of each block's ``n`` key/value heads or MLP
neurons, or of the model's ``n`` embedding channels (one set shared by every block); an
amount that would remove all ``n`` raises ``ValueError``. Head and MLP pruning give exactly
the original model with the removed units' activations zeroed. Model width is not exact: an
RMSNorm then averages over the channels left, so the kept channels are rescaled.
"""

from __future__ import annotations

import torch
from torch import nn

from ..core.checks import check_fraction
from ..core.device import evaluating
from ..structured.coupling import unit_groups
from ..structured.groups import Member, UnitGroup
from ..structured.selection import prune_units
from .posttraining import check_calibration, decoder_blocks

KINDS = ("heads", "mlp", "model")


def width_plan(model: nn.Module, kind: str) -> tuple[dict[str, str], list[str], bool]:
    """``(taps, layers, through_norms)`` for one kind of unit.

    ``taps``: the modules whose activations score the units (``"input"`` or ``"output"``);
    ``layers``: the producers to name in :func:`prune_units`' amount dict (one per group).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    _, blocks, _ = decoder_blocks(model)
    live = [f"layers.{i}" for i, block in enumerate(blocks) if not isinstance(block, nn.Identity)]
    if kind == "heads":
        taps = {f"{b}.self_attn.o_proj": "input" for b in live}
        return taps, [f"{b}.self_attn.q_proj" for b in live], False
    if kind == "mlp":
        return (
            {f"{b}.mlp.down_proj": "input" for b in live},
            [f"{b}.mlp.gate_proj" for b in live],
            False,
        )
    norms = [n for n, m in model.named_modules() if n and type(m).__name__.endswith("Norm")]
    return dict.fromkeys(norms, "output"), ["embed_tokens"], True


def _checked(model: nn.Module, calibration: object) -> torch.Tensor:
    """``calibration`` on the model's device, once it and the model are checked."""
    _, _, embed = decoder_blocks(model)
    return check_calibration(calibration, embed).to(embed.weight.device)


def squared_sums(model: nn.Module, calibration: torch.Tensor, taps: dict[str, str]):
    """``S[name][b, f] = sum_t a_{b,t,f}^2`` for each tapped module, over one dense pass.

    ``taps`` maps a module name to ``"input"`` (its first argument) or ``"output"``.
    """
    modules = dict(model.named_modules())
    sums: dict[str, torch.Tensor] = {}

    def hook(name: str):
        def store(_module, args, out=None):
            x = args[0] if out is None else out
            sums[name] = x.detach().double().pow(2).sum(dim=1)

        return store

    handles = [
        modules[name].register_forward_pre_hook(hook(name))
        if where == "input"
        else modules[name].register_forward_hook(hook(name))
        for name, where in taps.items()
    ]
    device = next(model.parameters()).device
    try:
        with evaluating(model):
            model(calibration.to(device))
    finally:
        for handle in handles:
            handle.remove()
    return sums


def unit_norms(sums: torch.Tensor, member: Member, size: int) -> torch.Tensor:
    """``(1/B) sum_b sqrt(sum_{e in u} S[b, e])`` per unit ``u`` of ``member``'s axis."""
    units = member.units.to(sums.device)
    mine = units >= 0
    per_unit = torch.zeros(sums.shape[0], size, dtype=sums.dtype, device=sums.device)
    per_unit.index_add_(1, units[mine], sums[:, mine])
    return per_unit.sqrt().mean(dim=0)


def activation_importance(sums: dict[str, torch.Tensor]):
    """``group -> scores``: the summed :func:`unit_norms` of the group's tapped members."""

    def score(group: UnitGroup) -> torch.Tensor:
        tapped = {m.name: m for m in group.members if m.name in sums and m.units is not None}
        if not tapped:
            raise ValueError(f"no activations were recorded for the units of {group.name!r}")
        return sum(unit_norms(sums[n], m, group.size) for n, m in tapped.items()).float()

    return score


def width_scores(model: nn.Module, calibration: torch.Tensor, kind: str) -> dict[str, torch.Tensor]:
    """The activation score of every unit of one ``kind`` (``"heads"``, ``"mlp"`` or
    ``"model"``), by group name as :func:`~pruning_lessons.unit_groups` names the groups
    (``"layers.0.self_attn.q_proj"``, ``"layers.0.mlp.gate_proj"``, ``"embed_tokens"``).

    These are the scores the pruners below rank (lowest removed first); see the module
    docstring for the formula.
    """
    calibration = _checked(model, calibration)
    taps, layers, through_norms = width_plan(model, kind)
    score = activation_importance(squared_sums(model, calibration, taps))
    groups = unit_groups(model, calibration[:1], through_norms=through_norms)
    owner = {layer: g for g in groups for layer in g.layers}
    return {owner[layer].name: score(owner[layer]) for layer in layers}


def _prune_kind(model: nn.Module, amount: object, calibration: object, kind: str) -> nn.Module:
    calibration = _checked(model, calibration)
    check_fraction(amount, "amount", below_one=True)
    taps, layers, through_norms = width_plan(model, kind)
    sums = squared_sums(model, calibration, taps)
    return prune_units(
        model,
        dict.fromkeys(layers, amount),
        importance=activation_importance(sums),
        example_input=calibration[:1],
        through_norms=through_norms,
    )


def prune_heads(model: nn.Module, amount: float, calibration: torch.Tensor) -> nn.Module:
    """A copy of ``model`` with ``round(amount * n_kv_heads)`` key/value heads of every block
    removed, each with all the query heads that share it (``amount`` is therefore also the
    fraction of query heads removed).

    Scores: the norm of each head's attention output (the input columns of ``o_proj`` it
    owns) over ``calibration`` (``(n, seq_len)`` token ids), as in Minitron; see the module
    docstring for the formula. The removal is :func:`~pruning_lessons.prune_units` on the
    attention groups only. ``amount`` is a float in [0, 1); ``model`` is not changed.
    """
    return _prune_kind(model, amount, calibration, "heads")


def prune_mlp_width(model: nn.Module, amount: float, calibration: torch.Tensor) -> nn.Module:
    """A copy of ``model`` with ``round(amount * hidden_dim)`` MLP neurons of every block
    removed (their rows of ``gate_proj`` and ``up_proj`` and columns of ``down_proj``).

    Scores: the norm of each neuron's activation ``silu(gate) * up`` (the input of
    ``down_proj``) over ``calibration``, as in Minitron; see the module docstring. The removal
    is :func:`~pruning_lessons.prune_units` on the MLP groups only. ``amount`` is a float in
    [0, 1); ``model`` is not changed.
    """
    return _prune_kind(model, amount, calibration, "mlp")


def prune_model_width(model: nn.Module, amount: float, calibration: torch.Tensor) -> nn.Module:
    """A copy of ``model`` with ``round(amount * dim)`` channels of the residual stream removed.

    A channel is one column of the embedding and ``lm_head``, one entry of every RMSNorm, one
    row of every ``o_proj`` and ``down_proj`` and one column of every ``q/k/v_proj``,
    ``gate_proj`` and ``up_proj``. Scores: the norm of each channel of every RMSNorm's output
    over ``calibration``, summed over the norms (Minitron's embedding-channel importance; see
    the module docstring). The removal is :func:`~pruning_lessons.prune_units` with
    ``through_norms=True``. Not exact: the RMSNorms then average over the channels left, so
    the result differs from the zeroed original (distillation repairs it). ``amount`` is a
    float in [0, 1); ``model`` is not changed.
    """
    return _prune_kind(model, amount, calibration, "model")
