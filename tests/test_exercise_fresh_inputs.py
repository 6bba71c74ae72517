"""Checks never trust state an earlier attempt could change (issue #23).

A wrong attempt that ruins everything it is given, in place (tensors overwritten, modules'
weights zeroed, dicts and lists emptied, optimiser state wiped), must not make the reference
fail afterwards in the same process: every check hands the learner fresh inputs.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pruning_lessons.teaching.exercises import ALL


def _ruin(value, seen: set[int]) -> None:
    """Overwrite ``value`` in place as far as it goes (recursing into containers)."""
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, torch.Tensor):
        with torch.no_grad():
            value.fill_(True if value.dtype == torch.bool else 3)
    elif isinstance(value, nn.Module):
        for tensor in (*value.parameters(), *value.buffers()):
            _ruin(tensor, seen)
    elif isinstance(value, torch.optim.Optimizer):
        for state in value.state.values():
            _ruin(state, seen)
        for group in value.param_groups:
            group["lr"] = 100.0
    elif isinstance(value, dict):
        for item in list(value.values()):
            _ruin(item, seen)
        value.clear()
    elif isinstance(value, list):
        for item in value:
            _ruin(item, seen)
        value.clear()
    elif isinstance(value, tuple):
        for item in value:
            _ruin(item, seen)
    elif hasattr(value, "__dict__"):
        for item in list(vars(value).values()):
            try:
                _ruin(item, seen)
            except Exception:  # noqa: BLE001 -- a held-out split refuses, which is the point
                pass


def vandal(*args):
    """A wrong attempt that edits every input in place, then returns nothing useful."""
    seen: set[int] = set()
    for argument in args:
        try:
            _ruin(argument, seen)
        except Exception:  # noqa: BLE001
            pass
    return None


@pytest.mark.parametrize("key", sorted(ALL))
def test_the_reference_passes_after_an_attempt_that_ruined_its_inputs(key):
    exercise = ALL[key]
    assert not exercise.check(vandal)
    assert not exercise.check(vandal)  # twice: nothing it ruined is kept for the next check
    feedback = exercise.check(exercise.reference)
    assert feedback.status == "correct", feedback.message


def test_the_vandal_really_edits_what_it_is_given():
    layer, d, items = nn.Linear(2, 2), {"a": torch.zeros(2)}, [torch.zeros(1)]
    vandal(layer, d, items)
    assert (layer.weight == 3).all() and d == {} and items == []


def test_only_a_stand_in_made_by_use_is_unwrapped(capsys):
    exercise = ALL["07.ex1"]

    def wrong(weight, threshold):
        return weight.abs() >= threshold

    wrong.learners_function = exercise.reference  # a forged stand-in
    assert exercise.check(wrong).status == "incorrect"
    assert exercise.in_use(wrong) == "your"
    stand_in = exercise.use(wrong)
    assert "uses the reference solution" in capsys.readouterr().out  # the notice, on stdout
    assert exercise.in_use(stand_in) == "the reference"
    assert exercise.check(stand_in).status == "incorrect"  # judges the learner's own code
