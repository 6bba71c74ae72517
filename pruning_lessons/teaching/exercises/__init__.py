"""Exercises with checks in the style of hosted courses.

In a notebook::

    from pruning_lessons.teaching.exercises import weight as ex
    ex.ex1.check(my_function)   # Correct / Incorrect (first failing property) / Not attempted
    ex.ex1.hint(1)              # a ladder of hints, 1 to 3
    ex.ex1.solution()           # the reference solution's code
    fn = ex.ex1.use(my_function)  # yours if it passes, else the reference (with a notice)
"""

from . import capstone, lessons, llm, structural, weight
from .core import Exercise, Feedback

ALL = {
    e.key: e
    for e in (
        *lessons.EXERCISES,
        *capstone.EXERCISES,
        *weight.EXERCISES,
        *structural.EXERCISES,
        *llm.EXERCISES,
    )
}

__all__ = ["ALL", "Exercise", "Feedback", "capstone", "lessons", "llm", "structural", "weight"]
