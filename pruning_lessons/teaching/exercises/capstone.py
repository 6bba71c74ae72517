"""The capstone at the end of lesson 06: prune the digits MLP to a budget of non-zero parameters
while keeping a target test accuracy, judged on the held-out test split.

The learner writes ``prune_to_budget(model, data)``: any method, any schedule, any fine-tuning
(on ``data.train`` / ``data.val``). The check trains the dense MLP the lesson uses (seed 0),
hands the learner's function a copy of it and fresh copies of the train and validation splits
(the test split is held out: touching it inside the function raises, so no epoch count or
setting can be chosen on it), and measures the model it returns on ``data.test``. Non-zeros
are counted over the parameters *and* the floating-point buffers, so weights moved into
buffers still count. The verdict shows the learner's numbers next to the reference's.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import cache

import torch
from torch import nn
from torch.utils.data import TensorDataset

from .core import Exercise, Feedback, learners_code

MAX_NONZERO = 5_000  # of the MLP's 50,890 parameters: about 90 % sparsity
MIN_ACCURACY = 0.95  # the dense MLP reaches about 97.7 %


def prune_to_budget(model: nn.Module, data) -> nn.Module:
    """Global magnitude pruning to the budget (biases kept), then fine-tuning with masks held."""
    import pruning_lessons as pl

    weights = sum(p.numel() for p in pl.prunable_parameters(model).values())
    others = pl.count_parameters(model) - weights  # biases stay
    pl.magnitude_prune(model, 1 - (MAX_NONZERO - others) / weights, scope="global")
    pl.fine_tune(model, data, epochs=5)
    return model


@cache
def _setting() -> tuple:
    """The data and the trained dense MLP of lesson 06 (seed 0), made once per process."""
    import pruning_lessons as pl

    data = pl.load_digits(seed=0)
    pl.seed_everything(0)
    dense = pl.mlp()
    pl.fit(dense, data, desc="train the MLP for the check")
    return data, dense


HELD_OUT = (
    "the test split is held out while your function runs: train, fine-tune and choose epochs "
    "on data.train and data.val; the check measures the returned model on data.test"
)


class HeldOutSplit(TensorDataset):
    """What ``data.test`` is inside the learner's function: any use of it raises."""

    def __init__(self) -> None:  # no tensors at all
        pass

    @property
    def tensors(self):
        raise RuntimeError(HELD_OUT)

    def __getitem__(self, index):
        raise RuntimeError(HELD_OUT)

    def __len__(self) -> int:
        raise RuntimeError(HELD_OUT)


def _fresh(split: TensorDataset) -> TensorDataset:
    return TensorDataset(*(t.clone() for t in split.tensors))


def learners_data(data):
    """Fresh copies of ``data.train`` and ``data.val``; ``data.test`` held out."""
    from ...core.data import Splits

    return Splits(train=_fresh(data.train), val=_fresh(data.val), test=HeldOutSplit())


def nonzero_entries(model: nn.Module) -> int:
    """Non-zero entries of every parameter and floating-point buffer of ``model``."""
    tensors = [*model.parameters(), *(b for b in model.buffers() if b.is_floating_point())]
    return sum(int(torch.count_nonzero(t)) for t in tensors)


def measure(fn: Callable) -> tuple[int, float]:
    """Non-zeros and test accuracy of the model ``fn`` returns for fresh copies of the setting."""
    import pruning_lessons as pl

    data, dense = _setting()
    pl.seed_everything(0)
    model = fn(copy.deepcopy(dense), learners_data(data))
    if not isinstance(model, nn.Module):
        raise TypeError(f"return the pruned model, got {type(model).__name__}")
    return nonzero_entries(model), pl.evaluate(model, _fresh(data.test))


@cache
def reference_numbers() -> tuple[int, float]:
    """What the reference solution reaches, for comparison."""
    return measure(prune_to_budget)


class Capstone(Exercise):
    """An exercise judged by the numbers the learner's model reaches, shown with the reference's."""

    def check(self, fn: Callable) -> Feedback:
        """Run ``fn`` once, then compare its non-zeros and test accuracy with the targets."""
        if not callable(fn):
            return Feedback(self.key, "incorrect", f"expected a function, got {type(fn).__name__}")
        fn = learners_code(fn)
        try:
            nonzero, accuracy = measure(fn)
        except NotImplementedError:
            return Feedback(
                self.key,
                "not attempted",
                "write your code in place of the `raise NotImplementedError(...)` line, then "
                f"run {self.short}.check again.",
            )
        except TypeError as error:
            return Feedback(self.key, "incorrect", str(error))
        except Exception as error:  # noqa: BLE001 -- any crash is feedback for the learner
            return Feedback(
                self.key,
                "incorrect",
                f"your function raised {type(error).__name__} on the trained MLP and the "
                f"digits data: {error}",
            )
        ref_nonzero, ref_accuracy = reference_numbers()
        numbers = (
            f"your model: {nonzero:,} non-zero parameters, {accuracy:.1%} test accuracy; "
            f"the reference: {ref_nonzero:,}, {ref_accuracy:.1%} (targets: at most "
            f"{MAX_NONZERO:,}, at least {MIN_ACCURACY:.0%})"
        )
        if nonzero > MAX_NONZERO:
            return Feedback(
                self.key,
                "incorrect",
                f"over the budget: {numbers}. If you pruned and fine-tuned, did the zeros "
                "stay zero during fine-tuning?",
            )
        if accuracy < MIN_ACCURACY:
            return Feedback(
                self.key,
                "incorrect",
                f"accuracy too low: {numbers}. Fine-tuning, a gentler schedule or a better "
                "spread of the budget over the layers can win it back",
            )
        return Feedback(self.key, "correct", numbers)


capstone = Capstone(
    "06.ex2",
    "capstone: prune to a budget",
    prune_to_budget,
    [],
    [
        f"The budget counts every parameter that is not exactly zero, biases included: at most "
        f"{MAX_NONZERO:,}. Prune the weights globally so that what is left fits.",
        "pl.magnitude_prune(model, amount, scope='global') keeps its masks installed on the "
        "model, so pl.fine_tune afterwards leaves the zeros in place.",
        "amount = 1 - (budget - biases) / weights, where weights counts "
        "pl.prunable_parameters(model) and biases the rest; then fine-tune for a few epochs.",
    ],
)

EXERCISES = (capstone,)
