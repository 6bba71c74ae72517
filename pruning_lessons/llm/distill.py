"""Recovering a pruned model by knowledge distillation from the dense one.

Hinton et al. 2015: the student matches the teacher's softened next-token distribution,
``loss = T^2 * KL(softmax(z_teacher / T) || softmax(z_student / T))``, averaged over tokens.
The ``T^2`` keeps gradient sizes comparable across temperatures. Minitron (Muralidharan et al.
2024) recovers width- and depth-pruned LLMs this way with far fewer tokens than training from
scratch. Masks installed on the student hold: its pruned weights stay zero.
"""

from __future__ import annotations

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
    data = _check_tokens(data)
    for name, value in (("steps", steps), ("batch_size", batch_size), ("seq_len", seq_len)):
        _check_positive(value, name)
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float)
        or temperature <= 0
    ):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    if isinstance(lr, bool) or not isinstance(lr, int | float) or lr <= 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if len(data) < seq_len:
        raise ValueError(f"data has {len(data)} tokens, fewer than seq_len={seq_len}")
    generator = torch.Generator().manual_seed(check_seed(seed))
    device = next(student.parameters()).device
    optimizer = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=0.0)
    teacher_mode, student_mode = teacher.training, student.training
    teacher.eval()
    student.train()
    losses = []
    try:
        for _ in tqdm(range(steps), desc="distilling", disable=not progress):
            batch = random_windows(data, batch_size, seq_len, generator).to(device)
            with torch.no_grad():
                target = teacher(batch)
            loss = distill_loss(student(batch), target, float(temperature))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    finally:
        teacher.train(teacher_mode)
        student.train(student_mode)
    return losses
