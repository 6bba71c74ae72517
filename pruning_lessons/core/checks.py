"""Argument checks that need no torch, so the command line can use them before torch loads."""

from __future__ import annotations


def check_fraction(value: object, name: str = "amount", *, below_one: bool = False) -> float:
    """The one rule every ``amount`` (and sparsity target) of this package follows.

    A Python ``float`` in [0, 1] (in [0, 1) where ``below_one``: removing every unit of a
    layer is impossible). An ``int`` is refused everywhere, 0 and 1 included, because
    ``torch.nn.utils.prune`` reads an int as a *count* of weights, and mixing the two is a
    classic bug: write ``0.0`` or ``1.0``. Raises TypeError for a wrong type, ValueError for a
    value out of range (or NaN).
    """
    upper = "1)" if below_one else "1]"
    if isinstance(value, bool) or not isinstance(value, float):
        why = ""
        if isinstance(value, int) and not isinstance(value, bool):
            why = (
                f"; write {float(value)!r} if you mean a fraction (ints are refused because "
                "torch.nn.utils.prune reads an int as a count of weights)"
            )
        raise TypeError(
            f"{name} must be a float fraction in [0, {upper} (e.g. 0.9 for 90 % zeros), got "
            f"{type(value).__name__} {value!r}{why}"
        )
    if not (0.0 <= value < 1.0 if below_one else 0.0 <= value <= 1.0):  # also rejects NaN
        raise ValueError(f"{name} must be in [0, {upper}, got {value}")
    return value
