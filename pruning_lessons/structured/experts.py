"""Expert pruning for mixture-of-experts layers: remove whole experts with their router rows.

A mixture-of-experts layer (Mixtral, Qwen2-MoE) holds ``E`` experts and a router, a linear
map whose row ``e`` scores expert ``e`` for each token; the router's softmax picks the top
``k``. Removing expert ``e`` removes its weights and router row ``e``. The pruned model then
computes exactly what the original computes with expert ``e``'s router logit forced to
``-inf``: the softmax over the experts left equals the softmax over all with ``e`` at zero
probability, and ``e`` is never in the top ``k``.

Score (router statistics, as expert-pruning papers for Mixtral-style models use): expert
``e``'s mean routing probability over the calibration tokens,
``score_e = (1/T) sum_t softmax(router(x_t))_e``; the lowest go first, ties to the lower
index. Found generically: a module with a router child (a ``weight`` of shape ``(E, d)``) and
an experts child holding ``E`` experts (an ``nn.ModuleList`` of ``E`` modules, or tensors whose
first axis has ``E`` entries, with an attribute such as ``num_experts`` saying ``E``), and a
``top_k`` / ``num_experts_per_tok`` attribute on one of them.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..core.checks import check_fraction
from ..core.device import evaluating
from .tracing import tensors_in

#: Attributes that count a layer's experts (modules and configs).
EXPERT_COUNTS = ("num_experts", "num_local_experts", "n_routed_experts")
#: Attributes that hold how many experts each token is routed to.
TOP_K = ("top_k", "num_experts_per_tok")


@dataclass
class ExpertLayer:
    """One mixture-of-experts layer: its path, router and experts, ``count`` experts."""

    name: str
    router: str
    experts: str
    count: int
    top_k: int | None


def _count_of(module: nn.Module) -> int | None:
    if isinstance(module, nn.ModuleList):
        return len(module)
    counts = [
        getattr(module, a) for a in EXPERT_COUNTS if isinstance(getattr(module, a, None), int)
    ]
    tensors = [*module.parameters(recurse=False)]
    if counts and tensors and all(t.dim() >= 2 and t.shape[0] == counts[0] for t in tensors):
        return counts[0]
    return None


def _top_k(*modules: nn.Module) -> int | None:
    for module in modules:
        for attr in TOP_K:
            value = getattr(module, attr, None)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return None


def expert_layers(model: nn.Module) -> list[ExpertLayer]:
    """Every mixture-of-experts layer of ``model``, in module order."""
    found = []
    for name, block in model.named_modules():
        children = dict(block.named_children())
        experts = {n: c for n, c in children.items() if (_count_of(c) or 0) >= 2}
        for expert_name, container in experts.items():
            count = _count_of(container)
            routers = [
                n
                for n, c in children.items()
                if n != expert_name
                and isinstance(getattr(c, "weight", None), torch.Tensor)
                and c.weight.dim() == 2
                and c.weight.shape[0] == count
            ]
            top_k = _top_k(children[routers[0]], block, container) if len(routers) == 1 else None
            if top_k is not None:  # a router that picks the top k: a mixture of experts
                path = f"{name}." if name else ""
                found.append(ExpertLayer(name, path + routers[0], path + expert_name, count, top_k))
                break
    return found


def expert_scores(
    model: nn.Module, calibration: torch.Tensor | Iterable[torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Each layer's mean routing probability per expert over the calibration tokens."""
    layers = expert_layers(model)
    if not layers:
        raise ValueError(
            f"{type(model).__name__} has no mixture-of-experts layer (a router whose weight has "
            "one row per expert next to a module holding the experts)"
        )
    batches = [calibration] if isinstance(calibration, torch.Tensor) else list(calibration)
    if not batches or not all(isinstance(b, torch.Tensor) for b in batches):
        raise TypeError("calibration must be a tensor of inputs or a list of such tensors")
    sums = {layer.name: torch.zeros(layer.count, dtype=torch.float64) for layer in layers}
    tokens = dict.fromkeys(sums, 0)

    def recorder(layer: ExpertLayer):
        def hook(module: nn.Module, inputs: tuple, output: object) -> None:
            logits = next(t for t in tensors_in(output) if t.shape[-1] == layer.count)
            probs = logits.detach().double().reshape(-1, layer.count).softmax(-1)
            sums[layer.name] += probs.sum(0).cpu()
            tokens[layer.name] += probs.shape[0]

        return hook

    handles = [
        model.get_submodule(layer.router).register_forward_hook(recorder(layer)) for layer in layers
    ]
    try:
        with evaluating(model):
            for batch in batches:
                model(batch)
    finally:
        for handle in handles:
            handle.remove()
    return {name: (sums[name] / max(tokens[name], 1)).float() for name in sums}


def select_experts(
    model: nn.Module, amount: float, calibration: torch.Tensor | Iterable[torch.Tensor]
) -> dict[str, list[int]]:
    """The experts :func:`prune_experts` removes: ``router path -> sorted expert indices``.

    ``round(amount x E)`` per layer, the lowest :func:`expert_scores` first, ties to the lower
    index. ``ValueError`` if fewer experts than a token's top ``k`` would remain.
    """
    fraction = check_fraction(amount, "amount", below_one=True)
    scores = expert_scores(model, calibration)
    removed = {}
    for layer in expert_layers(model):
        count = round(fraction * layer.count)
        left = layer.count - count
        if layer.top_k is not None and left < layer.top_k:
            raise ValueError(
                f"amount {amount} would leave {left} experts in {layer.name!r}, fewer than the "
                f"{layer.top_k} each token is routed to; use a smaller amount"
            )
        order = torch.sort(scores[layer.name], stable=True).indices
        removed[layer.router] = sorted(order[:count].tolist())
    return removed


def prune_experts(
    model: nn.Module, amount: float, calibration: torch.Tensor | Iterable[torch.Tensor]
) -> nn.Module:
    """A copy of ``model`` without the ``round(amount x E)`` least-routed experts of each
    mixture-of-experts layer (:func:`select_experts`), with their router rows removed and
    the expert counts of the modules and the config updated; ``model`` is not changed.

    The copy computes exactly what ``model`` computes with those experts' router logits
    forced to ``-inf`` (:func:`silenced_experts`). ``ValueError`` if fewer experts than a
    token's top ``k`` would remain.
    """
    removed = select_experts(model, amount, calibration)
    pruned = copy.deepcopy(model)
    kept_counts = set()
    for layer in expert_layers(pruned):
        gone = torch.tensor(removed[layer.router], dtype=torch.long)
        keep = torch.arange(layer.count)[~torch.isin(torch.arange(layer.count), gone)]
        _keep_experts(pruned, layer, keep)
        kept_counts.add((layer.count, len(keep)))
    if len(kept_counts) == 1:
        ((old, new),) = kept_counts
        _fix_config_count(pruned, old, new)
    return pruned


@contextlib.contextmanager
def silenced_experts(model: nn.Module, removed: dict[str, list[int]]) -> Iterator[None]:
    """Inside the block, ``model``'s routers give the ``removed`` experts a logit of ``-inf``.

    ``removed``: ``router path -> expert indices`` (what :func:`select_experts` returns). The
    reference that expert pruning must match: the softmax gives those experts probability 0
    and top-k never picks them. Works for routers that compute their logits with
    ``F.linear`` on their ``weight`` (``nn.Linear`` and transformers' Mixtral / Qwen2-MoE
    routers): ``F.linear`` is wrapped, for those weights only, while the block runs.
    """
    weights = {id(model.get_submodule(r).weight): list(units) for r, units in removed.items()}
    linear = F.linear

    def masked(inputs, weight, bias=None):
        out = linear(inputs, weight, bias)
        if id(weight) in weights and weights[id(weight)]:
            out = out.clone()
            out[..., weights[id(weight)]] = float("-inf")
        return out

    F.linear = masked
    try:
        yield
    finally:
        F.linear = linear


def _keep_experts(model: nn.Module, layer: ExpertLayer, keep: torch.Tensor) -> None:
    router, experts = model.get_submodule(layer.router), model.get_submodule(layer.experts)
    for module in (router, experts):
        if isinstance(module, nn.ModuleList):
            continue
        for store in (module._parameters, module._buffers):
            for attr, tensor in list(store.items()):
                if tensor is not None and tensor.dim() >= 1 and tensor.shape[0] == layer.count:
                    data = tensor.detach().index_select(0, keep.to(tensor.device))
                    is_param = isinstance(tensor, nn.Parameter)
                    store[attr] = nn.Parameter(data, tensor.requires_grad) if is_param else data
    if isinstance(experts, nn.ModuleList):
        kept = nn.ModuleList(experts[i] for i in keep.tolist())
        parent, _, child = layer.experts.rpartition(".")
        setattr(model.get_submodule(parent), child, kept)
        experts = kept
    if isinstance(router, nn.Linear):
        router.out_features = len(keep)
    for module in (model.get_submodule(layer.name), router, experts):
        for attr in EXPERT_COUNTS:
            if getattr(module, attr, None) == layer.count:
                setattr(module, attr, len(keep))


def _fix_config_count(model: nn.Module, old: int, new: int) -> None:
    """Every config's expert count, where all layers kept the same number."""
    configs = {id(c): c for m in model.modules() if (c := m.__dict__.get("config")) is not None}
    for config in configs.values():
        for attr in EXPERT_COUNTS:
            if getattr(config, attr, None) == old:
                setattr(config, attr, new)
