"""Recovering a pruned model: distillation from the dense one, or plain next-token fine-tuning.

Hinton et al. 2015: the student matches the teacher's softened next-token distribution,
``loss = T^2 * KL(softmax(z_teacher / T) || softmax(z_student / T))``, averaged over tokens.
The ``T^2`` keeps gradient sizes comparable across temperatures. Minitron (Muralidharan et al.
2024) recovers width- and depth-pruned LLMs this way with far fewer tokens than training from
scratch. The plain alternative, :func:`fine_tune`, trains on the language-modelling loss
``-mean_t log p(x_{t+1} | x_{<=t})`` alone, with no teacher. Both draw the same windows for the
same ``seed``, ``batch_size`` and ``seq_len``, so at an equal budget they see the same bytes.
Masks installed on the model hold: its pruned weights stay zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..core.device import check_seed
from .evaluate import _check_positive, _check_tokens, random_windows


def distill_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float
) -> torch.Tensor:
    """``T^2 * KL(teacher_T || student_T)`` per token, averaged."""
    t = temperature
    log_p_student = F.log_softmax(student_logits.flatten(0, -2) / t, dim=-1)
    log_p_teacher = F.log_softmax(teacher_logits.flatten(0, -2) / t, dim=-1)
    kl = F.kl_div(log_p_student, log_p_teacher, log_target=True, reduction="batchmean")
    return kl * t * t


def _positive_number(value: object, name: str, zero: bool = False) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value < 0
        or (value == 0 and not zero)
    ):
        kind = "a non-negative" if zero else "a positive"
        raise ValueError(f"{name} must be {kind} number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class _Budget:
    """A checked recovery budget: ``steps`` AdamW steps on ``batch_size`` windows of
    ``seq_len`` tokens, drawn by a generator seeded with ``seed``."""

    steps: int
    batch_size: int
    seq_len: int
    lr: float
    weight_decay: float
    seed: int


def _budget(data, steps, batch_size, seq_len, lr, weight_decay, seed, shortest) -> _Budget:
    """Check every argument of a recovery (before any change); ``shortest`` window allowed."""
    _check_tokens(data)
    for name, value in (("steps", steps), ("batch_size", batch_size), ("seq_len", seq_len)):
        _check_positive(value, name)
    if seq_len < shortest:
        raise ValueError(f"seq_len must be at least {shortest}, got {seq_len}")
    if len(data) < seq_len:
        raise ValueError(f"data has {len(data)} tokens, fewer than seq_len={seq_len}")
    lr = _positive_number(lr, "lr")
    weight_decay = _positive_number(weight_decay, "weight_decay", zero=True)
    return _Budget(steps, batch_size, seq_len, lr, weight_decay, check_seed(seed))


def _train(
    model: nn.Module,
    data: torch.Tensor,
    loss_of: Callable[[torch.Tensor], torch.Tensor],
    budget: _Budget,
    desc: str,
    progress: bool,
) -> list[float]:
    """AdamW on ``loss_of(windows)`` over the parameters that require a gradient, for
    ``budget.steps`` batches of random windows of ``data``; the loss of every step."""
    generator = torch.Generator().manual_seed(budget.seed)
    device = next(model.parameters()).device
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=budget.lr, weight_decay=budget.weight_decay)
    mode = model.training
    model.train()
    losses = []
    try:
        for _ in tqdm(range(budget.steps), desc=desc, disable=not progress):
            batch = random_windows(data, budget.batch_size, budget.seq_len, generator)
            loss = loss_of(batch.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    finally:
        model.train(mode)
    return losses


def distill(
    student: nn.Module,
    teacher: nn.Module,
    data: torch.Tensor,
    temperature: float = 2.0,
    *,
    steps: int = 50,
    batch_size: int = 16,
    seq_len: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Train ``student`` (in place) to match ``teacher`` on random windows of ``data``.

    AdamW at ``lr`` for ``steps`` batches of ``batch_size`` windows of ``seq_len`` tokens;
    ``teacher`` is only read. Returns the loss of every step.
    """
    temperature = _positive_number(temperature, "temperature")
    budget = _budget(data, steps, batch_size, seq_len, lr, 0.0, seed, shortest=1)
    teacher_mode = teacher.training
    teacher.eval()

    def loss_of(batch: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = teacher(batch)
        return distill_loss(student(batch), target, temperature)

    try:
        return _train(student, data, loss_of, budget, "distilling", progress)
    finally:
        teacher.train(teacher_mode)


def fine_tune(
    model: nn.Module,
    data: torch.Tensor,
    *,
    steps: int = 50,
    batch_size: int = 16,
    seq_len: int = 128,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Train ``model`` (in place) on the plain next-token loss over random windows of ``data``.

    ``loss = -mean_t log p(x_{t+1} | x_{<=t})`` (cross-entropy), the ``seq_len - 1`` targets of
    each window predicted from the tokens before them. The windows are those :func:`distill`
    draws with the same ``seed``, ``batch_size`` and ``seq_len``: an equal budget on the same
    bytes. AdamW at ``lr`` with ``weight_decay``; only parameters that require a gradient are
    trained (the adapters of a ``peft`` LoRA model, say). Returns the loss of every step.
    """
    budget = _budget(data, steps, batch_size, seq_len, lr, weight_decay, seed, shortest=2)

    def loss_of(batch: torch.Tensor) -> torch.Tensor:
        logits = model(batch[:, :-1])
        return F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())

    return _train(model, data, loss_of, budget, "fine-tuning", progress)
