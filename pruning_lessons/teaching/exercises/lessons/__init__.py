"""One short checked exercise per lesson 01-06, with the same machinery as 07 and 08.

In lesson NN's notebook: ``from pruning_lessons.teaching.exercises.lessons import lessonNN as ex1``.
Each reference is a few lines; the properties try the learner's function on small cases whose
answer is easy to work out by hand, and say what is wrong without printing the expected value.

One module per exercise: :mod:`.compression` (01), :mod:`.nm_mask` (02), :mod:`.conv_macs`
(03), :mod:`.lamp` (04), :mod:`.cubic` (05) and :mod:`.layer_budget` (06).
"""

from .compression import compression_ratio, lesson01
from .conv_macs import conv_macs, lesson03
from .cubic import cubic, lesson05
from .lamp import lamp, lesson04
from .layer_budget import amounts_within_budget, lesson06
from .nm_mask import keep_n_of_m, lesson02

EXERCISES = (lesson01, lesson02, lesson03, lesson04, lesson05, lesson06)

__all__ = [
    "EXERCISES",
    "amounts_within_budget",
    "compression_ratio",
    "conv_macs",
    "cubic",
    "keep_n_of_m",
    "lamp",
    "lesson01",
    "lesson02",
    "lesson03",
    "lesson04",
    "lesson05",
    "lesson06",
]
