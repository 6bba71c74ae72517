"""The pruning pipeline, step by step: initialise, train, prune, fine-tune, evaluate.

Every step appends a :class:`Step` to a :class:`Record` (what happened, the sparsity, the test
accuracy, the time), so lessons can print the pipeline as a table and plot it.

Two ways to recover accuracy after pruning are implemented:

* fine-tuning, with one-shot, iterative or cubic (gradual) schedules at an equal budget of
  fine-tuning epochs (:func:`prune_and_fine_tune`);
* lottery-ticket rewinding (Frankle & Carbin 2019, "The Lottery Ticket Hypothesis"): train,
  prune, reset the survivors to their initial values, train again (:func:`lottery_ticket`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from ..core.data import Splits
from ..core.device import check_seed, seed_everything
from ..core.train import _batchnorms, _check_positive, evaluate, fit, recalibrate_bn
from .criteria import MovementTracker, prune_weights
from .magnitude import _check_scope, magnitude_prune, random_prune, sparsity
from .masks import get_masks, install_mask
from .schedules import sparsity_schedule


def _criterion(name: str) -> Callable[..., dict]:
    def prune(model: nn.Module, amount: float, scope: str, seed: int, data: Splits) -> dict:
        return prune_weights(model, amount, criterion=name, scope=scope, seed=seed, data=data)

    return prune


#: Weight pruners by name, called as ``pruner(model, amount, scope, seed, data)``.
PRUNERS: dict[str, Callable[..., dict]] = {
    "magnitude": lambda model, amount, scope, seed, data: magnitude_prune(
        model, amount, scope=scope
    ),
    "random": lambda model, amount, scope, seed, data: random_prune(
        model, amount, scope=scope, seed=seed
    ),
    **{name: _criterion(name) for name in ("taylor", "snip", "movement", "lamp")},
}

#: Pruners whose scores are recorded while the model fine-tunes (see ``prune_and_fine_tune``).
TRAINED_SCORES = {"movement"}


@dataclass
class Step:
    """One step of the pipeline and the model's state right after it."""

    step: str  # "train", "prune", "recalibrate BN", "fine-tune", "rewind"
    sparsity: float
    accuracy: float
    seconds: float
    epochs: int = 0


@dataclass
class Record:
    """Everything a pipeline run did, in order, plus the settings it ran with."""

    config: dict
    steps: list[Step] = field(default_factory=list)

    def add(self, model: nn.Module, data: Splits, step: str, seconds: float, epochs: int = 0):
        self.steps.append(Step(step, sparsity(model), evaluate(model, data.test), seconds, epochs))

    @property
    def final_accuracy(self) -> float:
        return self.steps[-1].accuracy

    @property
    def dense_accuracy(self) -> float:
        return next(s.accuracy for s in self.steps if s.step == "train")

    def to_dict(self) -> dict:
        return {"config": self.config, "steps": [asdict(s) for s in self.steps]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def __str__(self) -> str:
        lines = [f"{'step':10s} {'epochs':>6s} {'sparsity':>9s} {'accuracy':>9s} {'seconds':>8s}"]
        lines += [
            f"{s.step:10s} {s.epochs:6d} {s.sparsity:9.1%} {s.accuracy:9.1%} {s.seconds:8.2f}"
            for s in self.steps
        ]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in ("step", "epochs", "sparsity", "accuracy", "s"))
        rows = "".join(
            f"<tr><td>{s.step}</td><td>{s.epochs}</td><td>{s.sparsity:.1%}</td>"
            f"<td>{s.accuracy:.1%}</td><td>{s.seconds:.2f}</td></tr>"
            for s in self.steps
        )
        return f"<table><tr>{head}</tr>{rows}</table>"


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _split_budget(epochs: int, parts: int) -> list[int]:
    """``epochs`` shared as evenly as possible over ``parts`` (the last ones get the rest)."""
    base, extra = divmod(epochs, parts)
    return [base + (1 if i >= parts - extra else 0) for i in range(parts)]


def _check_count(value: object, name: str, minimum: int) -> None:
    """A whole number of epochs or rounds, at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int >= {minimum}, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")


def _check_pruning(method, scope, seed, fine_tune_epochs, schedule, sparsity, steps, lr=None):
    """Every argument of :func:`prune_and_fine_tune`, checked before anything is touched.

    Returns the schedule's sparsity levels.
    """
    if method not in PRUNERS:
        raise ValueError(f"method must be one of {sorted(PRUNERS)}, got {method!r}")
    _check_scope(scope)
    if lr is not None:
        _check_positive(lr, "lr", float)
    check_seed(seed)
    _check_count(fine_tune_epochs, "fine_tune_epochs", 0)
    return sparsity_schedule(schedule, sparsity, steps)


def _fine_tune_plan(epochs: int, steps: int) -> list[int]:
    """Fine-tuning epochs after each pruning step, ``epochs`` in total.

    One step gets everything. With several, the steps before the last share the first half
    of the budget and the final sparsity gets the second half: like Zhu & Gupta (2017), the
    sparsity reaches its target well before the end, so the network can recover at it.
    """
    if steps == 1:
        return [epochs]
    ramp = _split_budget(epochs // 2, steps - 1)
    return [*ramp, epochs - sum(ramp)]


def train_dense(
    build: Callable[[], nn.Module], data: Splits, *, epochs: int = 30, seed: int = 0
) -> tuple[nn.Module, Record]:
    """Initialise (seeded) and train a dense model; the record starts with that step."""
    seed_everything(seed)
    model = build()
    record = Record({"seed": seed, "train_epochs": epochs})
    seconds = _timed(lambda: fit(model, data, epochs=epochs, seed=seed, desc="train"))
    record.add(model, data, "train", seconds, epochs)
    return model, record


def prune_and_fine_tune(
    model: nn.Module,
    data: Splits,
    record: Record,
    *,
    sparsity: float,
    schedule: str = "one-shot",
    steps: int = 5,
    fine_tune_epochs: int = 10,
    method: str = "magnitude",
    scope: str = "global",
    lr: float = 1e-3,
    seed: int = 0,
) -> Record:
    """Prune ``model`` in place following ``schedule``, fine-tuning after each pruning step.

    The total fine-tuning budget is ``fine_tune_epochs`` whatever the schedule, so schedules
    are compared fairly (:func:`_fine_tune_plan` shares it over the steps; the last phase
    decays the learning rate). Each step's accuracy is recorded right after pruning and
    after fine-tuning; a model with BatchNorm also gets a "recalibrate BN" step after each
    pruning step (:func:`~pruning_lessons.core.train.recalibrate_bn`: one pass of training data, no
    gradient step), so the record shows accuracy with stale and with fresh statistics.
    Data-driven methods (``"taylor"``, ``"snip"``) read their batches
    from ``data.train``. ``"movement"`` scores come from fine-tuning itself: one more share
    of the budget is spent fine-tuning the dense model under a
    :class:`~pruning_lessons.weights.criteria.MovementTracker` before the first pruning step, and
    the tracker keeps recording until the end (the total is still ``fine_tune_epochs``).
    """
    levels = _check_pruning(method, scope, seed, fine_tune_epochs, schedule, sparsity, steps, lr)
    tracked = method in TRAINED_SCORES
    first = fine_tune_epochs // (len(levels) + 1) if tracked else 0
    budget = _fine_tune_plan(fine_tune_epochs - first, len(levels))
    if tracked and first == 0:
        raise ValueError(
            f"method {method!r} records its scores while fine-tuning, before the first pruning "
            f"step: it needs fine_tune_epochs >= {len(levels) + 1} (got {fine_tune_epochs})"
        )
    record.config.update(
        sparsity=sparsity,
        schedule=schedule,
        steps=len(levels),
        fine_tune_epochs=fine_tune_epochs,
        method=method,
        scope=scope,
    )
    tracker = MovementTracker(model).start() if tracked else None

    def fine_tune_for(epochs: int, lr_schedule: str = "constant") -> None:
        seconds = _timed(
            lambda: fit(
                model,
                data,
                epochs=epochs,
                lr=lr,
                seed=seed,
                desc="fine-tune",
                lr_schedule=lr_schedule,
            )
        )
        record.add(model, data, "fine-tune", seconds, epochs)

    try:
        if tracked:
            fine_tune_for(first)
        for i, (level, epochs) in enumerate(zip(levels, budget, strict=True)):
            seconds = _timed(lambda level=level: PRUNERS[method](model, level, scope, seed, data))
            record.add(model, data, "prune", seconds)
            if _batchnorms(model):
                seconds = _timed(lambda: recalibrate_bn(model, data))
                record.add(model, data, "recalibrate BN", seconds)
            if epochs:
                fine_tune_for(epochs, "cosine" if i == len(levels) - 1 else "constant")
    finally:
        if tracker is not None:
            tracker.stop()
    return record


def _rewind(model: nn.Module, start: dict[str, torch.Tensor]) -> None:
    """Reset every parameter to ``start``; pruned weights stay zero (the masks are kept)."""
    masks = get_masks(model)
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_(start[name])
    for name, keep in masks.items():
        module_name, _, param_name = name.rpartition(".")
        install_mask(model.get_submodule(module_name), param_name, keep)


def lottery_ticket(
    build: Callable[[], nn.Module],
    data: Splits,
    *,
    sparsity: float,
    rounds: int = 4,
    epochs: int = 30,
    rewind_epoch: int = 0,
    seed: int = 0,
) -> tuple[nn.Module, Record, nn.Module, Record]:
    """Iterative magnitude pruning with rewinding, and its random re-initialisation control.

    Each round trains for ``epochs``, prunes globally to the next level of an iterative
    schedule, and resets the surviving weights to their values after ``rewind_epoch`` epochs
    (0: the initial values). After the last round the ticket is trained once more. The
    control keeps the same mask but starts from a fresh random initialisation.

    Returns ``(ticket, ticket_record, control, control_record)``.
    """
    levels = sparsity_schedule("iterative", sparsity, rounds)  # checks sparsity and rounds
    _check_count(epochs, "epochs", 1)
    _check_count(rewind_epoch, "rewind_epoch", 0)
    check_seed(seed)
    seed_everything(seed)
    model = build()
    record = Record(
        {
            "seed": seed,
            "sparsity": sparsity,
            "rounds": rounds,
            "epochs": epochs,
            "rewind_epoch": rewind_epoch,
            "method": "lottery ticket",
        }
    )
    if rewind_epoch:
        fit(model, data, epochs=rewind_epoch, seed=seed, desc="to the rewind point")
    start = {k: v.detach().clone() for k, v in model.named_parameters()}
    for level in levels:
        seconds = _timed(lambda: fit(model, data, epochs=epochs, seed=seed, desc="train"))
        record.add(model, data, "train", seconds, epochs)
        seconds = _timed(lambda level=level: magnitude_prune(model, level, scope="global"))
        record.add(model, data, "prune", seconds)
        seconds = _timed(lambda: _rewind(model, start))
        record.add(model, data, "rewind", seconds)
    seconds = _timed(lambda: fit(model, data, epochs=epochs, seed=seed, desc="train ticket"))
    record.add(model, data, "train", seconds, epochs)

    seed_everything(seed + 10_000)  # a different initialisation, the same mask
    control = build().to(next(model.parameters()).device)
    for name, keep in get_masks(model).items():
        module_name, _, param_name = name.rpartition(".")
        install_mask(control.get_submodule(module_name), param_name, keep)
    control_record = Record({**record.config, "method": "random re-initialisation"})
    seconds = _timed(lambda: fit(control, data, epochs=epochs, seed=seed, desc="train control"))
    control_record.add(control, data, "train", seconds, epochs)
    return model, record, control, control_record


def run(
    build: Callable[[], nn.Module],
    data: Splits,
    *,
    sparsity: float,
    schedule: str = "one-shot",
    steps: int = 5,
    train_epochs: int = 30,
    fine_tune_epochs: int = 10,
    method: str = "magnitude",
    scope: str = "global",
    seed: int = 0,
) -> tuple[nn.Module, Record]:
    """The whole pipeline: initialise, train, prune (on a schedule), fine-tune, evaluate."""
    _check_pruning(method, scope, seed, fine_tune_epochs, schedule, sparsity, steps)
    _check_count(train_epochs, "train_epochs", 1)
    model, record = train_dense(build, data, epochs=train_epochs, seed=seed)
    prune_and_fine_tune(
        model,
        data,
        record,
        sparsity=sparsity,
        schedule=schedule,
        steps=steps,
        fine_tune_epochs=fine_tune_epochs,
        method=method,
        scope=scope,
        seed=seed,
    )
    return model, record
