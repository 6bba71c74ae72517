"""Operations that join tensors or take pieces of one: ``cat``, ``stack``, ``split`` /
``chunk`` / ``unbind``, ``slice``, ``select``.

``cat`` on a labelled axis joins the spaces at their offsets (DenseNet, SqueezeNet); a split
along it hands each piece the segments it holds, and splits a layer's fresh space into equal
parts where the pieces cut through it (GPT-2's fused q/k/v projection).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import fx

from ..labels import Label, Seg, bounds_of, only_params

if TYPE_CHECKING:
    from ..walker import Walker


def slice_(w: Walker, node: fx.Node) -> list[Label]:
    dim = node.args[1] if len(node.args) > 1 else 0
    labels = w.labels(node.args[0])
    dim %= max(len(labels), 1)
    if w.shape(node)[dim] != w.shape(node.args[0])[dim] and labels[dim] is not None:
        if only_params(labels[dim]):
            w.fix(labels[dim], node)
            labels[dim] = None
            return labels
        return w.unknown_op(node, "a slice across units")
    return labels


def select(w: Walker, node: fx.Node) -> list[Label]:
    labels = w.labels(node.args[0])
    dim = node.args[1] % len(labels)
    if only_params(labels[dim]):
        w.fix(labels[dim], node)
    elif labels[dim] is not None:
        return w.unknown_op(node, "indexing one unit")
    return labels[:dim] + labels[dim + 1 :]


def index(w: Walker, node: fx.Node) -> list[Label]:
    """``x[idx]`` (``aten.index``): axes indexed by tensors must carry no units (a
    parameter's axis read whole is fixed: Swin's relative-position table indexed by
    position); the other axes keep their labels, e.g. the table's head axis."""
    source, indices = node.args[0], list(node.args[1])
    labels = w.labels(source)
    used = [d for d, i in enumerate(indices) if i is not None]
    if not used or used != list(range(used[0], used[-1] + 1)):
        return w.unknown_op(node, "indexing with tensors on axes apart")
    for d in used:
        if only_params(labels[d]):
            w.fix(labels[d], node)
        elif labels[d] is not None:
            return w.unknown_op(node, "indexing units by a tensor")
    before, after = labels[: used[0]], labels[used[-1] + 1 :]
    middle = len(w.shape(node)) - len(before) - len(after)
    return [*before, *[None] * middle, *after]


def cat(w: Walker, node: fx.Node) -> list[Label]:
    tensors = [t for t in node.args[0] if w.shape(t) != (0,)]
    shape = w.shape(node)
    dim = (node.args[1] if len(node.args) > 1 else 0) % len(shape)
    result: list[Label] = []
    for d in range(len(shape)):
        if d == dim:
            segs: list[Seg] = []
            for t in tensors:
                label = w.labels(t)[d]
                segs.extend(label or (("free", None, w.shape(t)[d]),))
            result.append(None if all(s[0] == "free" for s in segs) else tuple(segs))
            continue
        chosen: Label = None
        for k, t in enumerate(tensors):
            label = w.labels(t)[d]
            if k == 0 or shape[d] == 1:
                chosen = label
            elif chosen is not None or label is not None:
                chosen = w.align(chosen, label, node)
        result.append(chosen)
    return result


def stack(w: Walker, node: fx.Node) -> list[Label]:
    tensors = list(node.args[0])
    labels = w.labels(tensors[0])
    for t in tensors[1:]:
        labels = [
            w.align(a, b, node) if (a is not None or b is not None) else None
            for a, b in zip(labels, w.labels(t), strict=True)
        ]
    dim = (node.args[1] if len(node.args) > 1 else 0) % (len(labels) + 1)
    return labels[:dim] + [None] + labels[dim:]


def split_into(w: Walker, node: fx.Node, sizes: list[int], dim: int) -> list[list[Label]]:
    """The labels of each piece when ``node.args[0]`` is cut into ``sizes`` along ``dim``."""
    source = node.args[0]
    labels = w.labels(source)
    dim %= len(labels)
    label = labels[dim]
    cuts = [sum(sizes[:k]) for k in range(len(sizes) + 1)]
    bounds = bounds_of(label)
    if label is not None and not set(cuts) <= set(bounds):
        label = refine(w, label, sizes)
    if label is not None and not set(cuts) <= set(bounds_of(label)):
        w.unknown_op(node, "a split through a layer's units")
        label = None
    elif label is not None:
        bounds = bounds_of(label)
    outs = []
    for k in range(len(sizes)):
        part = list(labels)
        if label is not None:
            segs = [s for s, lo in zip(label, bounds, strict=False) if cuts[k] <= lo < cuts[k + 1]]
            part[dim] = tuple(segs) if segs else None
        elif labels[dim] is not None:
            part[dim] = None
        outs.append(part)
    return outs


def refine(w: Walker, label: Label, sizes: list[int]) -> Label:
    """Split a fresh space into parts of ``sizes``, e.g. GPT-2's fused q/k/v projection, or
    Mamba's ``x_proj`` output split into ``dt``, ``B`` and ``C``.

    Possible only while the space is merged with nothing else and each part holds whole
    units (``units x size / length`` of them); every label that refers to it is rewritten
    to the parts, each segment cut in the same proportions.
    """
    if len(label) != 1 or label[0][0] != "space":
        return label
    space, length = label[0][1], label[0][2]
    units = w.spaces.units[space]
    alone = w.spaces.find(space) == space and w.spaces.parent.count(space) == 1
    if not alone or any((units * size) % length for size in sizes):
        return label
    if any((length_of * size) % length for length_of in _lengths(w, space) for size in sizes):
        return label
    new = [w.spaces.new(units * size // length) for size in sizes]
    if space in w.spaces.pinned:
        for part in new:
            w.spaces.pin(part, w.spaces.pinned[space])

    def rewrite(old: Label) -> Label:
        if old is None or not any(seg[0] == "space" and seg[1] == space for seg in old):
            return old
        segs: list[Seg] = []
        for seg in old:
            if seg[0] != "space" or seg[1] != space:
                segs.append(seg)
            else:
                segs.extend(
                    ("space", part, seg[2] * size // length)
                    for part, size in zip(new, sizes, strict=True)
                )
        return tuple(segs)

    for key, (old, role, place) in list(w.members.items()):
        w.members[key] = (rewrite(old), role, place)
    for node, value in w.values.items():
        if isinstance(value, list):
            w.values[node] = [
                [rewrite(v) for v in item] if isinstance(item, list) else rewrite(item)
                for item in value
            ]
    return rewrite(label)


def _lengths(w: Walker, space: int) -> set[int]:
    """The lengths of every segment of ``space`` in any label seen so far."""
    found: set[int] = set()

    def note(label: Label) -> None:
        found.update(seg[2] for seg in label or () if seg[0] == "space" and seg[1] == space)

    for label, _, _ in w.members.values():
        note(label)
    for value in w.values.values():
        for item in value if isinstance(value, list) else ():
            for label in item if isinstance(item, list) else [item]:
                note(label)
    return found


def split(w: Walker, node: fx.Node) -> list[list[Label]]:
    sizes = node.args[1]
    dim = node.args[2] if len(node.args) > 2 else 0
    total = w.shape(node.args[0])[dim]
    if isinstance(sizes, int):
        sizes = [min(sizes, total - s) for s in range(0, total, sizes)]
    return split_into(w, node, list(sizes), dim)


def chunk(w: Walker, node: fx.Node) -> list[list[Label]]:
    dim = node.args[2] if len(node.args) > 2 else 0
    total = w.shape(node.args[0])[dim]
    size = -(-total // node.args[1])
    return split_into(w, node, [min(size, total - s) for s in range(0, total, size)], dim)


def tensor_split(w: Walker, node: fx.Node) -> list[list[Label]]:
    """``tensor_split`` / ``unsafe_split`` / ``hsplit``...: the pieces' sizes are read off the
    outputs."""
    dim = node.args[2] if len(node.args) > 2 else node.kwargs.get("dim", 0)
    shapes = w.shapes(node)
    return split_into(w, node, [s[dim] for s in shapes], dim)


def meshgrid(w: Walker, node: fx.Node) -> list[list[Label]]:
    """``meshgrid(t_1..t_n)``: output ``k`` carries ``t_k``'s label on axis ``k`` (under
    ``indexing="xy"`` the first two axes are swapped); its other axes are copies."""
    tensors = list(node.args[0])
    indexing = node.kwargs.get("indexing", node.args[1] if len(node.args) > 1 else "ij")
    order = list(range(len(tensors)))
    if indexing == "xy" and len(order) >= 2:
        order[0], order[1] = 1, 0
    outputs = []
    for k, t in enumerate(tensors):
        labels: list[Label] = [None] * len(tensors)
        labels[order.index(k)] = (w.labels(t) or [None])[0]
        outputs.append(labels)
    return outputs


def unbind(w: Walker, node: fx.Node) -> list[list[Label]]:
    labels = w.labels(node.args[0])
    dim = (node.args[1] if len(node.args) > 1 else 0) % len(labels)
    if labels[dim] is not None:
        w.unknown_op(node, "unbinding units")
    rest = labels[:dim] + labels[dim + 1 :]
    return [list(rest) for _ in range(w.shape(node.args[0])[dim])]


RULES = {
    "slice": slice_,
    "select": select,
    "index": index,
    "cat": cat,
    "stack": stack,
    "split": split,
    "split_with_sizes": split,
    "chunk": chunk,
    "unbind": unbind,
    "tensor_split": tensor_split,
    "unsafe_split": tensor_split,
    "unsafe_split_with_sizes": tensor_split,
    "unsafe_chunk": tensor_split,
    "meshgrid": meshgrid,
}
