"""Criteria for weight pruning: each one gives every weight a score; the lowest go first.

A criterion only *scores*. :func:`prune_weights` hands the scores to the same exact selection
that magnitude pruning uses (``select.py``: ``round(amount * n)`` pruned, ties to the lower
index, per layer or global) and installs the masks (``masks.py``), so every criterion prunes
exactly as many weights, keeps its zeros through training, and changes nothing on error.

=========  ================================================  ===================================
name       score of weight ``w`` (gradient ``g = dL/dw``)    from
=========  ================================================  ===================================
magnitude  ``|w|``                                           Han et al. 2015
random     uniform noise (the baseline)
taylor     ``(g * w)^2``, averaged over a few batches        Molchanov et al. 2019
snip       ``|g * w|`` on one batch, at initialisation       Lee et al. 2019 (SNIP)
movement   ``-sum_t g_t * w_t`` over fine-tuning steps       Sanh et al. 2020
lamp       ``w_u^2 / sum_{v >= u} w_v^2`` within the layer   Lee et al. 2021 (LAMP)
=========  ================================================  ===================================

Adding a criterion is one function ``(model, names, options) -> {name: scores}`` put into
:data:`WEIGHT_CRITERIA` (or passed as ``criterion=``). Weights that are already pruned rank
below every other weight whatever their score, so pruning again only adds zeros.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook
from torch.utils.weak import WeakIdKeyDictionary

from ..core.batches import Data, Loss, Scores, data_batches, gradients
from ..core.device import at_model_threads, independent_generator
from .magnitude import _check_scope, _install, _select_by_amount, prunable_parameters
from .masks import get_masks
from .select import prune_count

# --- the criteria ---------------------------------------------------------------------------


def magnitude_scores(model: nn.Module, parameters: Iterable[str] | None = None) -> Scores:
    """``score = |w|`` (Han et al. 2015): small weights matter least."""
    return {n: p.detach().abs() for n, p in prunable_parameters(model, parameters).items()}


def random_scores(
    model: nn.Module, parameters: Iterable[str] | None = None, *, seed: int = 0
) -> Scores:
    """Uniform noise, reproducible from ``seed``: the same choice as ``random_prune``."""
    generator = independent_generator(seed, "random weights")
    return {
        n: torch.rand(p.shape, generator=generator).to(p.device)
        for n, p in prunable_parameters(model, parameters).items()
    }


@at_model_threads
def taylor_scores(
    model: nn.Module,
    data: Data | None,
    parameters: Iterable[str] | None = None,
    *,
    batches: int = 4,
    batch_size: int = 128,
    loss_fn: Loss | None = None,
) -> Scores:
    """``score = mean over batches b of (g_b * w)^2``: first-order Taylor importance.

    Molchanov et al. 2019, "Importance Estimation for Neural Network Pruning": removing ``w``
    changes the loss by about ``-g * w`` (first-order Taylor expansion); squaring makes the
    estimate of each batch non-negative, and averaging over ``batches`` batches steadies it.
    The model is not changed (see :func:`gradients`).
    """
    params = prunable_parameters(model, parameters)
    chosen = data_batches(data, batches, batch_size, "taylor scores")
    total = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in params.items()}
    for grads in gradients(model, params, chosen, loss_fn):
        for n, p in params.items():
            total[n] += (grads[n] * p.detach()).float().square()
    return {n: t / len(chosen) for n, t in total.items()}


@at_model_threads
def snip_scores(
    model: nn.Module,
    data: Data | None,
    parameters: Iterable[str] | None = None,
    *,
    batch_size: int = 128,
    loss_fn: Loss | None = None,
) -> Scores:
    """``score = |g * w|`` on one batch: SNIP's connection sensitivity.

    Lee et al. 2019, "SNIP: Single-shot Network Pruning based on Connection Sensitivity": put
    a gate ``c = 1`` on each weight; ``|dL/dc| = |g * w|`` says how much the loss depends on
    that connection. Meant for a freshly *initialised* model: score once, prune once, then
    train the sparse model. (SNIP also divides by the sum of all scores; that does not change
    the ranking, so it is left out.) Only the first batch of ``data`` is read.
    """
    params = prunable_parameters(model, parameters)
    chosen = data_batches(data, 1, batch_size, "SNIP scores")
    grads = next(gradients(model, params, chosen, loss_fn))
    return {n: (grads[n] * p.detach()).abs().float() for n, p in params.items()}


def lamp_scores(model: nn.Module, parameters: Iterable[str] | None = None) -> Scores:
    """LAMP: ``score_u = w_u^2 / sum_{v >= u} w_v^2`` within each layer, for global pruning.

    Lee et al. 2021, "Layer-adaptive Sparsity for the Magnitude-based Pruning": sort a layer's
    weights by ``w^2`` ascending (ties keep index order); each weight's score is its square
    divided by the sum of the squares at or after it in that order. Within a layer the order
    is the magnitude order, but the scores are comparable across layers: every layer's largest
    weight scores 1, so global pruning never empties a layer.
    """
    return {n: _lamp(p.detach()) for n, p in prunable_parameters(model, parameters).items()}


def _lamp(weight: torch.Tensor) -> torch.Tensor:
    squares = weight.float().reshape(-1).square()
    order = torch.sort(squares, stable=True).indices
    ordered = squares[order]
    at_or_after = ordered.flip(0).cumsum(0).flip(0)
    scores = torch.empty_like(squares)
    scores[order] = torch.where(at_or_after > 0, ordered / at_or_after, 0.0)
    return scores.view_as(weight)


# --- movement -------------------------------------------------------------------------------

_TRACKERS: WeakIdKeyDictionary = WeakIdKeyDictionary()  # model -> its latest MovementTracker


class MovementTracker:
    """Records movement scores ``S = -sum_t g_t * w_t`` while ``model`` trains.

    Sanh et al. 2020, "Movement Pruning: Adaptivity by Fine-Tuning": a weight that fine-tuning
    pushes away from zero (``g`` and ``w`` of opposite signs) gains score; one pulled towards
    zero loses it. Use it around any training loop with a ``torch.optim`` optimizer::

        with MovementTracker(model):
            fine_tune(model, data)
        prune_weights(model, 0.9, criterion="movement")

    Each ``optimizer.step()`` adds ``-grad * weight`` (the weight before the step, the gradient
    the optimizer applies): a global optimizer pre-step hook, so gradient accumulation over
    several ``backward()`` calls counts once, and gradients taken for scoring
    (``torch.autograd.grad``) do not count. ``steps`` counts the recorded optimizer steps.
    """

    def __init__(self, model: nn.Module, parameters: Iterable[str] | None = None) -> None:
        self.parameters = prunable_parameters(model, parameters)
        self._names = {id(p): n for n, p in self.parameters.items()}
        self._scores = {
            n: torch.zeros_like(p, dtype=torch.float32) for n, p in self.parameters.items()
        }
        self.steps = 0
        self._handle = None
        _TRACKERS[model] = self

    def start(self) -> MovementTracker:
        if self._handle is None:
            self._handle = register_optimizer_step_pre_hook(self._record)
        return self

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def __enter__(self) -> MovementTracker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @torch.no_grad()
    def _record(self, optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
        recorded = False
        for group in optimizer.param_groups:
            for param in group["params"]:
                name = self._names.get(id(param))
                if name is None or param.grad is None:
                    continue
                score = self._scores[name]
                if score.device != param.device:  # the model moved after tracking began
                    score = self._scores[name] = score.to(param.device)
                score.sub_((param.grad * param).float())
                recorded = True
        if recorded:
            self.steps += 1

    def scores(self) -> Scores:
        """A copy of the scores recorded so far, by parameter name."""
        return {n: s.clone() for n, s in self._scores.items()}


def movement_scores(model: nn.Module, parameters: Iterable[str] | None = None) -> Scores:
    """``score = -sum_t g_t * w_t``: what the latest :class:`MovementTracker` on ``model`` saw.

    Raises ``ValueError`` if no optimizer step of ``model`` was recorded.
    """
    names = list(prunable_parameters(model, parameters))
    tracker = _TRACKERS.get(model)
    if tracker is None or tracker.steps == 0:
        raise ValueError(
            "movement scores need gradients recorded while the model trains, and none were "
            "recorded for this model: wrap fine-tuning in `with MovementTracker(model): ...`"
        )
    missing = [n for n in names if n not in tracker.parameters]
    if missing:
        raise ValueError(f"the MovementTracker of this model did not track {missing}")
    scores = tracker.scores()
    return {n: scores[n] for n in names}


# --- registry and the one entry point -------------------------------------------------------


@dataclass(frozen=True)
class ScoreOptions:
    """What a criterion may need besides the model: data, a seed, how many batches to read."""

    data: Data | None = None
    seed: int = 0
    batches: int = 4
    batch_size: int = 128


WeightCriterion = Callable[[nn.Module, list[str], ScoreOptions], Scores]

#: Weight criteria by name: ``(model, parameter names, options) -> {name: scores}``.
WEIGHT_CRITERIA: dict[str, WeightCriterion] = {
    "magnitude": lambda model, names, o: magnitude_scores(model, names),
    "random": lambda model, names, o: random_scores(model, names, seed=o.seed),
    "taylor": lambda model, names, o: taylor_scores(
        model, o.data, names, batches=o.batches, batch_size=o.batch_size
    ),
    "snip": lambda model, names, o: snip_scores(model, o.data, names, batch_size=o.batch_size),
    "movement": lambda model, names, o: movement_scores(model, names),
    "lamp": lambda model, names, o: lamp_scores(model, names),
}


def _checked(scores: object, params: Mapping[str, nn.Parameter]) -> Scores:
    """The scores of ``params`` (extra names ignored), each of its weight's shape and finite."""
    if not isinstance(scores, Mapping):
        raise TypeError(f"a criterion must return a dict of scores, got {type(scores).__name__}")
    missing = [n for n in params if n not in scores]
    if missing:
        raise ValueError(f"the scores lack parameters {missing}")
    checked = {}
    for name, param in params.items():
        score = scores[name]
        if not isinstance(score, torch.Tensor) or score.shape != param.shape:
            shape = getattr(score, "shape", type(score).__name__)
            raise ValueError(
                f"scores for {name!r} must have the weight's shape {tuple(param.shape)}, "
                f"got {shape}"
            )
        if not torch.isfinite(score).all():
            raise ValueError(f"scores for {name!r} hold NaN or inf values")
        checked[name] = score.detach().to(param.device)
    return checked


def weight_scores(
    model: nn.Module,
    criterion: str | WeightCriterion = "magnitude",
    *,
    parameters: Iterable[str] | None = None,
    spare_classifier: bool = False,
    data: Data | None = None,
    seed: int = 0,
    batches: int = 4,
    batch_size: int = 128,
) -> Scores:
    """One score per weight of every prunable parameter, by the named criterion.

    ``criterion``: a name in :data:`WEIGHT_CRITERIA` or a function
    ``(model, names, options) -> scores``. ``data`` is read by ``"taylor"`` (``batches``
    batches) and ``"snip"`` (one batch); ``seed`` by ``"random"``. The model is not changed.
    """
    params = prunable_parameters(model, parameters, spare_classifier=spare_classifier)
    if isinstance(criterion, str):
        if criterion not in WEIGHT_CRITERIA:
            raise ValueError(
                f"criterion must be one of {sorted(WEIGHT_CRITERIA)} or a function, "
                f"got {criterion!r}"
            )
        criterion = WEIGHT_CRITERIA[criterion]
    elif not callable(criterion):
        raise TypeError(
            f"criterion must be a name, a function or a dict of scores, got "
            f"{type(criterion).__name__}"
        )
    options = ScoreOptions(data, seed, batches, batch_size)
    return _checked(criterion(model, list(params), options), params)


def prune_weights(
    model: nn.Module,
    amount: float,
    *,
    criterion: str | WeightCriterion | Mapping[str, torch.Tensor] = "magnitude",
    scope: str = "global",
    data: Data | None = None,
    seed: int = 0,
    batches: int = 4,
    batch_size: int = 128,
    parameters: Iterable[str] | None = None,
    spare_classifier: bool = False,
) -> dict[str, torch.Tensor]:
    """Prune the lowest-scored ``amount`` of ``model``'s weights, in place; return the masks.

    score -> select -> apply: :func:`weight_scores` (or ``criterion`` given as a dict of
    precomputed scores, e.g. ``tracker.scores()``), then exactly ``round(amount * n)`` weights
    pruned per layer (``scope="layer"``) or over all layers together (``scope="global"``),
    ties to the lower index, already-pruned weights first. Masks stay installed. On any error
    (a bad argument, a criterion without its data) the model is left unchanged.
    """
    _check_scope(scope)
    prune_count(amount, 1)  # type and range of amount, before any scoring work
    params = prunable_parameters(model, parameters, spare_classifier=spare_classifier)
    if isinstance(criterion, Mapping):
        scores = _checked(criterion, params)
    else:
        scores = weight_scores(
            model,
            criterion,
            parameters=list(params),
            data=data,
            seed=seed,
            batches=batches,
            batch_size=batch_size,
        )
    masks = _select_by_amount(scores, get_masks(model), amount, scope, _same)
    return _install(model, masks)


def _same(t: torch.Tensor) -> torch.Tensor:
    return t


__all__ = [
    "data_batches",
    "lamp_scores",
    "magnitude_scores",
    "movement_scores",
    "MovementTracker",
    "prune_weights",
    "random_scores",
    "ScoreOptions",
    "snip_scores",
    "taylor_scores",
    "WEIGHT_CRITERIA",
    "weight_scores",
]
