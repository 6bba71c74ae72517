"""Exercise 08, structural pruning: shrink layers and their neighbours so the network still runs.

One module per exercise: :mod:`.neurons` (ex1), :mod:`.filters` (ex2, with BatchNorm),
:mod:`.flatten` (ex3), :mod:`.layers` (ex4, a whole layer) and :mod:`.heads` (ex5, attention
heads under grouped-query attention, with the lesson's :class:`TinyDecoder`). Each holds the
reference solution, the properties its check runs and the exercise itself.
"""

from .filters import ex2, remove_filters
from .flatten import ex3, flatten_keep
from .heads import Attention, TinyDecoder, TransformerBlock, ex5, remove_heads
from .layers import drop_layer, ex4
from .neurons import ex1, remove_neurons

EXERCISES = (ex1, ex2, ex3, ex4, ex5)

__all__ = [
    "EXERCISES",
    "Attention",
    "TinyDecoder",
    "TransformerBlock",
    "drop_layer",
    "ex1",
    "ex2",
    "ex3",
    "ex4",
    "ex5",
    "flatten_keep",
    "remove_filters",
    "remove_heads",
    "remove_neurons",
]
