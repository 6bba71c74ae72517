"""Element-wise operations: their operands' axes meet, axis by axis, as broadcasting aligns
them (a residual ``+``, a SwiGLU ``gate * up``, a layer scale); and tensors made from nothing
(``arange``, ``zeros``, comparisons that build masks), which carry no units."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import fx

from ..labels import Label
from ..nodes import tensor_args

if TYPE_CHECKING:
    from ..walker import Walker

POINTWISE = {
    *"abs add add_ addcmul alias bitwise_not clamp clamp_ clamp_max clamp_min clone contiguous "
    "cos detach detach_ div div_ dropout dropout_ elu elu_ erf exp expm1 feature_dropout "
    "gelu gelu_ hardsigmoid hardsigmoid_ hardswish hardswish_ hardtanh hardtanh_ leaky_relu "
    "leaky_relu_ lift_fresh_copy log log1p logical_not masked_fill maximum minimum mish mul "
    "mul_ neg pow reciprocal relu relu_ relu6 rsqrt sigmoid sigmoid_ sign silu silu_ sin "
    "softplus sqrt square sub sub_ tanh tanh_ to _to_copy type_as where zeros_like ones_like "
    "full_like empty_like rand_like randn_like fill_ native_dropout celu selu glu_ fmax "
    "fmin".split(),
}
CREATIONS = {
    *"arange zeros ones full empty scalar_tensor new_zeros new_ones new_full new_empty rand "
    "randn tensor eye triu tril le lt ge gt eq ne sym_size".split(),
}
IGNORED = {"_assert_tensor_metadata", "sym_constrain_range_for_size", "_assert_scalar"}


def elementwise(w: Walker, node: fx.Node) -> list[Label]:
    return w.broadcast(tensor_args(node), node)


def no_units(w: Walker, node: fx.Node) -> list[Label]:
    return [None] * len(w.shape(node))


def ignored(w: Walker, node: fx.Node) -> None:
    return None


RULES = {
    **dict.fromkeys(POINTWISE, elementwise),
    **dict.fromkeys(CREATIONS, no_units),
    **dict.fromkeys(IGNORED, ignored),
}
