"""Every checker against plausible wrong answers (it must reject them) and right answers written
differently from the reference (it must accept them): principle 8, issue #14.

Each exercise has at least 12 wrong implementations (the slips learners really make: ``>=`` for
``>``, floor for round, signed values, per-layer for global, masking before the step, masking
only gradients under momentum, BatchNorm statistics not sliced, channels-last flatten order,
shared or re-initialised modules, stale metadata, and issue #23's kinds: answers that only work
on the example's inputs, counting and rounding slips, masks lost under Adam, shared bias
Parameters, BatchNorm rebuilt with the default eps, a conv assumed to have a bias, the test split
misused) and at least 3 right ones. A rejection must say what is wrong without printing the
expected values. Every wrong answer is tried on inputs chosen to expose it.
"""

from __future__ import annotations

import copy
import inspect
import math
import random
from collections import OrderedDict

import numpy as np
import pytest
import test_exercise_heads  # tests/ is on sys.path (no package): pytest's rootdir import
import test_exercise_llm  # tests/ is on sys.path (no package): pytest's rootdir import
import torch
from torch import nn

from pruning_lessons.teaching.exercises import ALL, capstone, structural, weight

WRONG: dict[str, list] = {}
RIGHT: dict[str, list] = {}


def wrong(key):
    def register(fn):
        WRONG.setdefault(key, []).append(fn)
        return fn

    return register


def right(key):
    def register(fn):
        RIGHT.setdefault(key, []).append(fn)
        return fn

    return register


# --- 07.ex1 threshold mask ------------------------------------------------------------------

for _name, _fn in {
    "greater_or_equal": lambda w, t: w.abs() >= t,
    "signed_values": lambda w, t: w > t,
    "true_means_prune": lambda w, t: w.abs() <= t,
    "float_mask": lambda w, t: (w.abs() > t).float(),
    "flattened": lambda w, t: w.abs().flatten() > t,
    "masked_weights_instead_of_mask": lambda w, t: w * (w.abs() > t),
    "relative_to_the_largest": lambda w, t: w.abs() > t * w.abs().max(),
    "python_list": lambda w, t: [x for x in w.flatten().tolist() if abs(x) > t],
}.items():
    _fn.__name__ = _name
    wrong("07.ex1")(_fn)


@wrong("07.ex1")
def threshold_in_place(w, t):
    w[w.abs() <= t] = 0
    return w != 0


@right("07.ex1")
def threshold_with_gt(w, t):
    return torch.abs(w).gt(t)


@right("07.ex1")
def threshold_two_sided(w, t):
    return (w > t) | (w < -t)


@right("07.ex1")
def threshold_negated(w, t):
    return ~(w.abs() <= t)


# --- 07.ex2 sparsity target -----------------------------------------------------------------


def _by_order(order_of, count=round, name=""):
    def fn(w, amount):
        k = count(amount * w.numel())
        keep = torch.ones(w.numel(), dtype=torch.bool)
        keep[order_of(w)[:k]] = False
        return keep.reshape(w.shape)

    fn.__name__ = name
    return fn


for _fn in (
    _by_order(lambda w: torch.argsort(w.abs(), stable=True), name="argsort_without_flatten"),
    _by_order(lambda w: torch.argsort(w.abs().flatten(), stable=True), int, "floor_not_round"),
    _by_order(lambda w: torch.argsort(w.abs().flatten(), stable=True), math.ceil, "ceil"),
    _by_order(lambda w: torch.argsort(w.flatten(), stable=True), name="signed_values"),
    _by_order(
        lambda w: torch.argsort(w.abs().flatten(), descending=True, stable=True),
        name="largest_first",
    ),
    _by_order(
        lambda w: w.numel() - 1 - torch.argsort(w.abs().flatten().flip(0), stable=True),
        name="ties_higher_index_first",
    ),
):
    wrong("07.ex2")(_fn)


@wrong("07.ex2")
def kthvalue_threshold(w, amount):  # ties at the threshold all go, and k = 0 crashes
    k = round(amount * w.numel())
    return w.abs() > w.abs().flatten().kthvalue(k).values


@wrong("07.ex2")
def amount_in_place(w, amount):
    w.abs_()
    return weight.amount_mask(w, amount)


@wrong("07.ex2")
def amount_int_mask(w, amount):
    return weight.amount_mask(w, amount).int()


@right("07.ex2")
def amount_with_sort(w, amount):
    k = round(amount * w.numel())
    _, order = torch.sort(w.detach().abs().reshape(-1), stable=True)
    mask = torch.ones_like(w, dtype=torch.bool).reshape(-1)
    mask[order[:k]] = False
    return mask.view_as(w)


@right("07.ex2")
def amount_with_numpy(w, amount):
    flat = w.detach().abs().reshape(-1).numpy()
    k = round(amount * flat.size)
    pruned = np.argsort(flat, kind="stable")[:k]
    keep = np.ones(flat.size, dtype=bool)
    keep[pruned] = False
    return torch.from_numpy(keep).reshape(w.shape)


@right("07.ex2")
def amount_with_python_sorting(w, amount):
    values = w.abs().flatten().tolist()
    k = round(amount * len(values))
    ranked = sorted(range(len(values)), key=lambda i: (values[i], i))
    keep = torch.ones(len(values), dtype=torch.bool)
    keep[ranked[:k]] = False
    return keep.reshape(w.shape)


# --- 07.ex3 global masks --------------------------------------------------------------------


def _split(flat_keep, weights):
    out, start = {}, 0
    for name, w in weights.items():
        out[name] = flat_keep[start : start + w.numel()].reshape(w.shape)
        start += w.numel()
    return out


@wrong("07.ex3")
def per_layer(ws, amount):
    return {n: weight.amount_mask(w, amount) for n, w in ws.items()}


@wrong("07.ex3")
def global_floor(ws, amount):
    flat = torch.cat([w.flatten() for w in ws.values()])
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    keep[torch.argsort(flat.abs(), stable=True)[: int(amount * flat.numel())]] = False
    return _split(keep, ws)


@wrong("07.ex3")
def global_signed(ws, amount):
    flat = torch.cat([w.flatten() for w in ws.values()])
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    keep[torch.argsort(flat, stable=True)[: round(amount * flat.numel())]] = False
    return _split(keep, ws)


@wrong("07.ex3")
def global_reversed_order(ws, amount):
    names = list(ws)[::-1]
    masks = weight.global_masks({n: ws[n] for n in names}, amount)
    return {n: masks[n] for n in ws}


@wrong("07.ex3")
def global_list(ws, amount):
    return list(weight.global_masks(ws, amount).values())


@wrong("07.ex3")
def global_flat_masks(ws, amount):
    return {n: m.flatten() for n, m in weight.global_masks(ws, amount).items()}


@wrong("07.ex3")
def global_below_mean(ws, amount):
    mean = torch.cat([w.abs().flatten() for w in ws.values()]).mean()
    return {n: w.abs() > mean for n, w in ws.items()}


@wrong("07.ex3")
def global_zeroes_the_weights(ws, amount):
    masks = weight.global_masks(ws, amount)
    for name, keep in masks.items():
        ws[name].mul_(keep)
    return masks


@right("07.ex3")
def global_with_split(ws, amount):
    flat = torch.cat([w.reshape(-1) for w in ws.values()])
    keep = weight.amount_mask(flat, amount)
    pieces = torch.split(keep, [w.numel() for w in ws.values()])
    return {n: p.reshape(w.shape) for (n, w), p in zip(ws.items(), pieces, strict=True)}


@right("07.ex3")
def global_by_threshold_then_ties(ws, amount):
    flat = torch.cat([w.abs().reshape(-1) for w in ws.values()])
    k = round(amount * flat.numel())
    ranks = torch.empty(flat.numel(), dtype=torch.long)
    ranks[torch.sort(flat, stable=True).indices] = torch.arange(flat.numel())
    keep = ranks >= k
    return _split(keep, ws)


# --- 07.ex4 a masked training step ----------------------------------------------------------


def _loss(model, x, y):
    return nn.functional.cross_entropy(model(x), y)


def _remask(model, masks):
    with torch.no_grad():
        for name, keep in masks.items():
            model.get_parameter(name).mul_(keep)


@wrong("07.ex4")
def no_remask(model, masks, optimizer, x, y):
    optimizer.zero_grad()
    loss = _loss(model, x, y)
    loss.backward()
    optimizer.step()
    return loss.item()


@wrong("07.ex4")
def mask_before_step(model, masks, optimizer, x, y):
    optimizer.zero_grad()
    loss = _loss(model, x, y)
    loss.backward()
    _remask(model, masks)
    optimizer.step()
    return loss.item()


@wrong("07.ex4")
def mask_gradients_only(model, masks, optimizer, x, y):
    optimizer.zero_grad()
    loss = _loss(model, x, y)
    loss.backward()
    for name, keep in masks.items():
        model.get_parameter(name).grad.mul_(keep)
    optimizer.step()
    return loss.item()


@wrong("07.ex4")
def no_zero_grad(model, masks, optimizer, x, y):
    loss = _loss(model, x, y)
    loss.backward()
    optimizer.step()
    _remask(model, masks)
    return loss.item()


@wrong("07.ex4")
def no_optimizer_step(model, masks, optimizer, x, y):
    optimizer.zero_grad()
    loss = _loss(model, x, y)
    loss.backward()
    _remask(model, masks)
    return loss.item()


@wrong("07.ex4")
def zero_grad_before_step(model, masks, optimizer, x, y):
    loss = _loss(model, x, y)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    _remask(model, masks)
    return loss.item()


@wrong("07.ex4")
def rebinds_instead_of_writing(model, masks, optimizer, x, y):
    optimizer.zero_grad()
    loss = _loss(model, x, y)
    loss.backward()
    optimizer.step()
    for name, keep in masks.items():
        p = model.get_parameter(name)
        p = p * keep  # noqa: F841 -- the slip: a new tensor, the model keeps the old one
    return loss.item()


@wrong("07.ex4")
def in_place_without_no_grad(model, masks, optimizer, x, y):
    optimizer.zero_grad()
    loss = _loss(model, x, y)
    loss.backward()
    optimizer.step()
    for name, keep in masks.items():
        model.get_parameter(name).mul_(keep)  # a leaf that requires grad: raises
    return loss.item()


@wrong("07.ex4")
def fresh_optimizer(model, masks, optimizer, x, y):
    own = torch.optim.SGD(model.parameters(), lr=0.1)
    own.zero_grad()
    loss = _loss(model, x, y)
    loss.backward()
    own.step()
    _remask(model, masks)
    return loss.item()


@wrong("07.ex4")
def returns_the_loss_tensor(model, masks, optimizer, x, y):
    optimizer.zero_grad()
    loss = _loss(model, x, y)
    loss.backward()
    optimizer.step()
    _remask(model, masks)
    return loss


@wrong("07.ex4")
def masks_biases_too(model, masks, optimizer, x, y):
    loss = weight.masked_step(model, masks, optimizer, x, y)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.mul_(p.abs() > p.abs().median())
    return loss


@right("07.ex4")
def step_with_data_and_where(model, masks, optimizer, x, y):
    optimizer.zero_grad(set_to_none=True)
    loss = _loss(model, x, y)
    loss.backward()
    optimizer.step()
    for name, keep in masks.items():
        p = model.get_parameter(name)
        p.data = torch.where(keep, p.data, torch.zeros_like(p.data))
    return float(loss.detach())


@right("07.ex4")
def step_masking_gradients_momentum_and_weights(model, masks, optimizer, x, y):
    optimizer.zero_grad()
    loss = _loss(model, x, y)
    loss.backward()
    with torch.no_grad():
        for name, keep in masks.items():
            p = model.get_parameter(name)
            p.grad.mul_(keep)
            buffer = optimizer.state.get(p, {}).get("momentum_buffer")
            if buffer is not None:
                buffer.mul_(keep)
            p.mul_(keep)  # the stored velocity is gone, the weight starts at zero
    optimizer.step()
    _remask(model, masks)
    return loss.item()


# --- 08.ex1 remove neurons ------------------------------------------------------------------


@wrong("08.ex1")
def neurons_forget_next(layer, next_layer, keep):
    new, _ = structural.remove_neurons(layer, next_layer, keep)
    return new, next_layer


@wrong("08.ex1")
def neurons_columns_not_rows(layer, next_layer, keep):
    new = nn.Linear(len(keep), layer.out_features)
    with torch.no_grad():
        new.weight.copy_(layer.weight[:, keep])
    return new, next_layer


@wrong("08.ex1")
def neurons_bias_not_sliced(layer, next_layer, keep):
    new, new_next = structural.remove_neurons(layer, next_layer, keep)
    with torch.no_grad():
        new.bias.copy_(layer.bias[: len(keep)])
    return new, new_next


@wrong("08.ex1")
def neurons_in_place(layer, next_layer, keep):
    layer.weight = nn.Parameter(layer.weight[keep])
    layer.bias = nn.Parameter(layer.bias[keep])
    layer.out_features = len(keep)
    next_layer.weight = nn.Parameter(next_layer.weight[:, keep])
    next_layer.in_features = len(keep)
    return layer, next_layer


@wrong("08.ex1")
def neurons_stale_metadata(layer, next_layer, keep):
    new, new_next = copy.deepcopy(layer), copy.deepcopy(next_layer)
    new.weight = nn.Parameter(layer.weight[keep].clone())
    new.bias = nn.Parameter(layer.bias[keep].clone())
    new_next.weight = nn.Parameter(next_layer.weight[:, keep].clone())
    return new, new_next


@wrong("08.ex1")
def neurons_next_bias_changed(layer, next_layer, keep):
    new, new_next = structural.remove_neurons(layer, next_layer, keep)
    with torch.no_grad():
        new_next.bias.zero_()
    return new, new_next


@wrong("08.ex1")
def neurons_removes_the_kept_ones(layer, next_layer, keep):
    gone = [i for i in range(layer.out_features) if i not in keep.tolist()]
    dropped = torch.tensor(gone + keep.tolist()[: len(keep) - len(gone)])
    return structural.remove_neurons(layer, next_layer, dropped)


@wrong("08.ex1")
def neurons_reinitialised(layer, next_layer, keep):
    return nn.Linear(layer.in_features, len(keep)), nn.Linear(len(keep), next_layer.out_features)


@wrong("08.ex1")
def neurons_no_bias(layer, next_layer, keep):
    new = nn.Linear(layer.in_features, len(keep), bias=False)
    new_next = nn.Linear(len(keep), next_layer.out_features)
    with torch.no_grad():
        new.weight.copy_(layer.weight[keep])
        new_next.weight.copy_(next_layer.weight[:, keep])
        new_next.bias.copy_(next_layer.bias)
    return new, new_next


@right("08.ex1")
def neurons_deepcopy_and_index_select(layer, next_layer, keep):
    new, new_next = copy.deepcopy(layer), copy.deepcopy(next_layer)
    new.weight = nn.Parameter(torch.index_select(layer.weight.detach(), 0, keep).clone())
    new.bias = nn.Parameter(torch.index_select(layer.bias.detach(), 0, keep).clone())
    new.out_features = len(keep)
    new_next.weight = nn.Parameter(torch.index_select(next_layer.weight.detach(), 1, keep))
    new_next.in_features = len(keep)
    return new, new_next


@right("08.ex1")
def neurons_boolean_mask(layer, next_layer, keep):
    chosen = torch.zeros(layer.out_features, dtype=torch.bool)
    chosen[keep] = True  # keep is sorted, so the order is the same
    new = nn.Linear(layer.in_features, int(chosen.sum()))
    new_next = nn.Linear(int(chosen.sum()), next_layer.out_features)
    new.load_state_dict({"weight": layer.weight[chosen], "bias": layer.bias[chosen]})
    new_next.load_state_dict(
        {"weight": next_layer.weight[:, chosen], "bias": next_layer.bias.clone()}
    )
    return new, new_next


# --- 08.ex2 remove filters with BatchNorm ---------------------------------------------------


def _filters(conv, bn, next_conv, keep):
    return structural.remove_filters(conv, bn, next_conv, keep)


@wrong("08.ex2")
def filters_running_stats_not_sliced(conv, bn, next_conv, keep):
    new_conv, new_bn, new_next = _filters(conv, bn, next_conv, keep)
    new_bn.running_mean, new_bn.running_var = bn.running_mean.clone(), bn.running_var.clone()
    return new_conv, new_bn, new_next


@wrong("08.ex2")
def filters_bn_untouched(conv, bn, next_conv, keep):
    new_conv, _, new_next = _filters(conv, bn, next_conv, keep)
    return new_conv, copy.deepcopy(bn), new_next


@wrong("08.ex2")
def filters_next_conv_untouched(conv, bn, next_conv, keep):
    new_conv, new_bn, _ = _filters(conv, bn, next_conv, keep)
    return new_conv, new_bn, copy.deepcopy(next_conv)


@wrong("08.ex2")
def filters_next_conv_wrong_dim(conv, bn, next_conv, keep):
    new_conv, new_bn, new_next = _filters(conv, bn, next_conv, keep)
    new_next.weight = nn.Parameter(next_conv.weight[keep[keep < next_conv.out_channels]].clone())
    return new_conv, new_bn, new_next


@wrong("08.ex2")
def filters_stale_metadata(conv, bn, next_conv, keep):  # issue #14: prints as Conv2d(2, 6, ...)
    new_conv, new_bn, new_next = _filters(conv, bn, next_conv, keep)
    new_conv.out_channels, new_bn.num_features = conv.out_channels, bn.num_features
    new_next.in_channels = next_conv.in_channels
    return new_conv, new_bn, new_next


@wrong("08.ex2")
def filters_bn_first_channels(conv, bn, next_conv, keep):
    new_conv, _, new_next = _filters(conv, bn, next_conv, keep)
    _, first_bn, _ = _filters(conv, bn, next_conv, torch.arange(len(keep)))
    return new_conv, first_bn, new_next


@wrong("08.ex2")
def filters_variance_from_mean(conv, bn, next_conv, keep):
    new_conv, new_bn, new_next = _filters(conv, bn, next_conv, keep)
    new_bn.running_var = bn.running_mean[keep].abs().clone() + 1e-3
    return new_conv, new_bn, new_next


@wrong("08.ex2")
def filters_conv_bias_not_sliced(conv, bn, next_conv, keep):
    new_conv, new_bn, new_next = _filters(conv, bn, next_conv, keep)
    new_conv.bias = nn.Parameter(conv.bias.detach().clone())
    return new_conv, new_bn, new_next


@wrong("08.ex2")
def filters_edit_the_callers_modules(conv, bn, next_conv, keep):
    new_conv, new_bn, _ = _filters(conv, bn, next_conv, keep)
    next_conv.weight = nn.Parameter(next_conv.weight[:, keep])
    next_conv.in_channels = len(keep)
    return new_conv, new_bn, next_conv


@wrong("08.ex2")
def filters_shared_bn_tensors(conv, bn, next_conv, keep):
    new_conv, new_bn, new_next = _filters(conv, bn, next_conv, keep)
    new_bn.weight = nn.Parameter(bn.weight.detach()[keep])
    new_bn.num_batches_tracked = bn.num_batches_tracked  # shared with the original
    return new_conv, new_bn, new_next


@right("08.ex2")
def filters_fresh_modules(conv, bn, next_conv, keep):
    n = len(keep)
    new_conv = nn.Conv2d(
        conv.in_channels, n, conv.kernel_size, conv.stride, conv.padding, bias=conv.bias is not None
    )
    new_bn = nn.BatchNorm2d(n, eps=bn.eps, momentum=bn.momentum)
    new_next = nn.Conv2d(
        n, next_conv.out_channels, next_conv.kernel_size, next_conv.stride, next_conv.padding
    )
    with torch.no_grad():
        new_conv.weight.copy_(conv.weight[keep])
        if conv.bias is not None:
            new_conv.bias.copy_(conv.bias[keep])
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(new_bn, name).copy_(getattr(bn, name)[keep])
        new_bn.num_batches_tracked.copy_(bn.num_batches_tracked)
        new_next.weight.copy_(next_conv.weight[:, keep])
        new_next.bias.copy_(next_conv.bias)
    return new_conv, new_bn, new_next


@right("08.ex2")
def filters_state_dicts(conv, bn, next_conv, keep):
    new_conv, new_bn, new_next = (copy.deepcopy(m) for m in (conv, bn, next_conv))
    new_conv.out_channels, new_bn.num_features, new_next.in_channels = (len(keep),) * 3
    for module, source, dim in ((new_conv, conv, 0), (new_bn, bn, 0), (new_next, next_conv, 1)):
        state = {
            k: (v.index_select(dim, keep) if v.dim() > dim and not (dim and k == "bias") else v)
            for k, v in source.state_dict().items()
        }
        for k, v in state.items():
            target = module._parameters if k in module._parameters else module._buffers
            target[k] = nn.Parameter(v.clone()) if k in module._parameters else v.clone()
    return new_conv, new_bn, new_next


# --- 08.ex3 flatten into a linear layer -----------------------------------------------------

for _name, _fn in {
    "one_index_per_channel": lambda keep, h, w: keep,
    "float_indices": lambda keep, h, w: structural.flatten_keep(keep, h, w).float(),
    "channels_last_order": lambda keep, h, w: (
        keep[None, :] + 4 * torch.arange(h * w)[:, None]
    ).flatten(),
    "off_by_one_channel": lambda keep, h, w: structural.flatten_keep(keep - 1, h, w).abs(),
    "height_only": lambda keep, h, w: (keep[:, None] * h + torch.arange(h)[None, :]).flatten(),
    "channel_starts_only": lambda keep, h, w: keep * h * w,
    "not_flattened": lambda keep, h, w: keep[:, None] * h * w + torch.arange(h * w)[None, :],
    "reversed_order": lambda keep, h, w: structural.flatten_keep(keep, h, w).flip(0),
    "python_list": lambda keep, h, w: structural.flatten_keep(keep, h, w).tolist(),
    "width_stride": lambda keep, h, w: (keep[:, None] * w + torch.arange(h * w)[None, :]).flatten(),
}.items():
    _fn.__name__ = _name
    wrong("08.ex3")(_fn)


@right("08.ex3")
def flatten_by_concatenation(keep, height, width):
    size = height * width
    return torch.cat([torch.arange(int(c) * size, (int(c) + 1) * size) for c in keep])


@right("08.ex3")
def flatten_by_reshaping_all_indices(keep, height, width):
    channels = int(keep.max()) + 1
    return torch.arange(channels * height * width).reshape(channels, -1)[keep].reshape(-1)


# --- 08.ex4 remove a whole layer ------------------------------------------------------------


def _check_width(model, name):
    layer = model.get_submodule(name)
    if layer.in_features != layer.out_features:
        raise ValueError(f"{name} changes the width")


def _without(model, names, copy_modules=True):
    kept = [
        (n, copy.deepcopy(m) if copy_modules else m)
        for n, m in model.named_children()
        if n not in names
    ]
    return nn.Sequential(OrderedDict(kept))


def _after(model, name, offset=1):
    names = [n for n, _ in model.named_children()]
    return names[names.index(name) + offset]


@wrong("08.ex4")
def drop_without_width_check(model, name):
    return _without(model, {name, _after(model, name)})


@wrong("08.ex4")
def drop_in_place(model, name):
    _check_width(model, name)
    relu = _after(model, name)
    del model._modules[name]
    del model._modules[relu]
    return model


@wrong("08.ex4")
def drop_keeps_the_relu(model, name):
    _check_width(model, name)
    return _without(model, {name})


@wrong("08.ex4")
def drop_the_next_layer_too(model, name):
    _check_width(model, name)
    return _without(model, {_after(model, name), _after(model, name, 2)})


@wrong("08.ex4")
def drop_forgets_the_index_shift(model, name):
    _check_width(model, name)
    smaller = copy.deepcopy(model)
    index = [n for n, _ in model.named_children()].index(name)
    del smaller[index]
    del smaller[index + 1]  # after the first deletion, the ReLU sits at `index`
    return smaller


@wrong("08.ex4")
def drop_shares_modules(model, name):  # issue #14: fine-tuning it changes the original
    _check_width(model, name)
    return _without(model, {name, _after(model, name)}, copy_modules=False)


@wrong("08.ex4")
def drop_reinitialised(model, name):  # issue #14: right shapes, trained weights lost
    _check_width(model, name)
    smaller = _without(model, {name, _after(model, name)})
    for module in smaller.modules():
        if isinstance(module, nn.Linear):
            module.reset_parameters()
    return smaller


@wrong("08.ex4")
def drop_returns_a_copy_unchanged(model, name):
    _check_width(model, name)
    return copy.deepcopy(model)


@wrong("08.ex4")
def drop_refuses_everything(model, name):
    raise ValueError(f"cannot remove {name}")


@right("08.ex4")
def drop_unnamed_sequential(model, name):
    _check_width(model, name)
    gone = {name}
    if isinstance(getattr(model, _after(model, name), None), nn.ReLU):
        gone.add(_after(model, name))
    return nn.Sequential(*[copy.deepcopy(m) for n, m in model.named_children() if n not in gone])


@right("08.ex4")
def drop_by_deleting_from_a_deep_copy(model, name):
    layer = getattr(model, name)
    if layer.weight.shape[0] != layer.weight.shape[1]:
        raise ValueError("the widths before and after differ")
    smaller = copy.deepcopy(model)
    relu = _after(model, name)
    delattr(smaller, name)
    if isinstance(getattr(model, relu), nn.ReLU):
        delattr(smaller, relu)
    return smaller


# --- 01.ex1 compression ratio ---------------------------------------------------------------


def _counts(model, params, nonzero=lambda p: int(torch.count_nonzero(p))):
    tensors = list(params(model))
    total = sum(p.numel() for p in tensors)
    kept = sum(nonzero(p) for p in tensors)
    return total, kept


for _name, _fn in {
    "weights_only": lambda m: (lambda t, k: t / k)(
        *_counts(m, lambda m: [p for n, p in m.named_parameters() if n.endswith("weight")])
    ),
    "sparsity_instead": lambda m: (lambda t, k: (t - k) / t)(*_counts(m, nn.Module.parameters)),
    "upside_down": lambda m: (lambda t, k: k / t)(*_counts(m, nn.Module.parameters)),
    "counts_buffers": lambda m: (lambda t, k: t / k)(
        *_counts(m, lambda m: [v.float() for v in m.state_dict().values()])
    ),
    "positive_only": lambda m: (lambda t, k: t / k)(
        *_counts(m, nn.Module.parameters, lambda p: int((p > 0).sum()))
    ),
    "tiny_counts_as_zero": lambda m: (lambda t, k: t / k)(
        *_counts(m, nn.Module.parameters, lambda p: int((p.abs() > 1e-6).sum()))
    ),
    "first_layer_only": lambda m: (lambda t, k: t / k)(
        *_counts(m, lambda m: list(m.parameters())[:2])
    ),
    "integer_division": lambda m: (lambda t, k: t // k)(*_counts(m, nn.Module.parameters)),
    "len_not_numel": lambda m: (
        sum(len(p) for p in m.parameters())
        / sum(int(torch.count_nonzero(p)) for p in m.parameters())
    ),
    "tensor_result": lambda m: torch.tensor(
        sum(p.numel() for p in m.parameters())
        / sum(int(torch.count_nonzero(p)) for p in m.parameters())
    ),
}.items():
    _fn.__name__ = _name
    wrong("01.ex1")(_fn)


@wrong("01.ex1")
def ratio_crashes_on_an_empty_model(model):
    total = sum(p.numel() for p in model.parameters())
    return total / sum(int(torch.count_nonzero(p)) for p in model.parameters())


@right("01.ex1")
def ratio_with_numpy(model):
    values = np.concatenate([p.detach().cpu().numpy().ravel() for p in model.parameters()])
    nonzero = np.count_nonzero(values)
    return float(values.size / nonzero) if nonzero else float("inf")


@right("01.ex1")
def ratio_with_vector(model):
    flat = nn.utils.parameters_to_vector(model.parameters())
    zeros = (flat == 0).sum().item()
    return math.inf if zeros == flat.numel() else flat.numel() / (flat.numel() - zeros)


# --- 02.ex1 N:M keep-mask -------------------------------------------------------------------


def _nm(groups_of, score=torch.abs, keep_count=lambda n, m: n, check=True, name=""):
    def fn(w, n=2, m=4):
        if check and w.shape[1] % m:
            raise ValueError("m")
        groups = groups_of(score(w), m)
        lowest = torch.argsort(groups, dim=-1, stable=True)[..., : m - keep_count(n, m)]
        keep = torch.ones_like(groups, dtype=torch.bool).scatter_(-1, lowest, False)
        return _ungroup(keep, w, groups_of)

    fn.__name__ = name
    return fn


def _rows_of(w, m):
    return w.reshape(w.shape[0], -1, m)


def _columns_of(w, m):
    return w.t().reshape(w.shape[1], -1, m)


def _strided_of(w, m):
    return w.reshape(w.shape[0], m, -1).transpose(1, 2)


def _ungroup(keep, w, groups_of):
    if groups_of is _columns_of:
        return keep.reshape(w.shape[1], w.shape[0]).t()
    if groups_of is _strided_of:
        return keep.transpose(1, 2).reshape(w.shape)
    return keep.reshape(w.shape)


for _fn in (
    _nm(_columns_of, name="groups_along_columns"),
    _nm(_strided_of, name="strided_groups"),
    _nm(_rows_of, score=lambda w: w, name="signed_values"),
    _nm(_rows_of, score=lambda w: -w.abs(), name="keeps_the_smallest"),
    _nm(_rows_of, keep_count=lambda n, m: m - n, name="prunes_n_instead_of_keeping_n"),
    _nm(_rows_of, keep_count=lambda n, m: 2, name="always_two"),
    _nm(_rows_of, check=False, name="no_error_for_ragged_rows"),
    _nm(_rows_of, score=lambda w: w.abs().flip(-1), name="ties_higher_index_first"),
):
    wrong("02.ex1")(_fn)


@wrong("02.ex1")
def nm_float_mask(w, n=2, m=4):
    return _nm(_rows_of)(w, n, m).float()


@wrong("02.ex1")
def nm_whole_tensor_groups(w, n=2, m=4):
    if w.numel() % m:
        raise ValueError("m")
    return _nm(_rows_of, check=False)(w.reshape(1, -1), n, m).reshape(w.shape)


@right("02.ex1")
def nm_python_loops(w, n=2, m=4):
    rows, cols = w.shape
    if cols % m != 0:
        raise ValueError(f"{cols} is not a multiple of {m}")
    keep = torch.zeros(rows, cols, dtype=torch.bool)
    for r in range(rows):
        for start in range(0, cols, m):
            group = [(abs(float(w[r, start + j])), j) for j in range(m)]
            for _, j in sorted(group)[m - n :]:
                keep[r, start + j] = True
    return keep


@right("02.ex1")
def nm_with_library(w, n=2, m=4):
    import pruning_lessons as pl

    return pl.nm_mask(w, n, m)


# --- 03.ex1 conv MACs -----------------------------------------------------------------------


def _macs(out_size, per_output, name):
    def fn(conv, h, w):
        oh, ow = out_size(conv, h, w)
        return conv.out_channels * oh * ow * per_output(conv)

    fn.__name__ = name
    return fn


def _out(conv, h, w):
    (kh, kw), (sh, sw), (ph, pw) = conv.kernel_size, conv.stride, conv.padding
    return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1


def _per(conv):
    return conv.in_channels // conv.groups * conv.kernel_size[0] * conv.kernel_size[1]


for _fn in (
    _macs(lambda c, h, w: (h, w), _per, "input_size_as_output"),
    _macs(lambda c, h, w: (h - c.kernel_size[0] + 1, w - c.kernel_size[1] + 1), _per, "no_padding"),
    _macs(
        lambda c, h, w: (
            (h + 2 * c.padding[0] - c.kernel_size[0] + 1,) * 1
            + (w + 2 * c.padding[1] - c.kernel_size[1] + 1,)
        ),
        _per,
        "no_stride",
    ),
    _macs(_out, lambda c: c.in_channels * c.kernel_size[0] * c.kernel_size[1], "no_groups"),
    _macs(_out, lambda c: 2 * _per(c), "flops_not_macs"),
    _macs(_out, lambda c: _per(c) + 1, "bias_counted"),
    _macs(_out, lambda c: c.in_channels // c.groups * c.kernel_size[0] ** 2, "square_kernel"),
    _macs(lambda c, h, w: tuple(x - 1 for x in _out(c, h, w)), _per, "output_size_off_by_one"),
    _macs(_out, lambda c: c.in_channels // c.groups, "kernel_forgotten"),
):
    wrong("03.ex1")(_fn)


@wrong("03.ex1")
def macs_float(conv, h, w):
    oh, ow = _out(conv, h, w)
    return conv.out_channels * oh * ow * _per(conv) * 1.0


@right("03.ex1")
def macs_by_running_it(conv, h, w):
    with torch.no_grad():
        out = conv(torch.zeros(1, conv.in_channels, h, w))
    return out[0, 0].numel() * conv.weight.numel()


@right("03.ex1")
def macs_with_floor(conv, h, w):
    sizes = [
        math.floor((size + 2 * p - k) / s) + 1
        for size, p, k, s in zip((h, w), conv.padding, conv.kernel_size, conv.stride, strict=True)
    ]
    return int(np.prod(sizes)) * conv.weight.numel()


# --- 04.ex1 LAMP ----------------------------------------------------------------------------


def _lamp(square, suffix, order, restore=True, name=""):
    def fn(w):
        s = square(w.reshape(-1))
        idx = order(s)
        ordered = s[idx]
        denominators = suffix(ordered)
        scores = ordered / denominators
        if not restore:
            return scores.reshape(w.shape)
        out = torch.zeros_like(scores)
        out[idx] = scores
        return out.reshape(w.shape)

    fn.__name__ = name
    return fn


def _ascending(s):
    return torch.argsort(s, stable=True)


def _at_or_after(x):
    return x.flip(0).cumsum(0).flip(0)


for _fn in (
    _lamp(torch.abs, _at_or_after, _ascending, name="not_squared"),
    _lamp(torch.square, lambda x: x.sum().expand_as(x), _ascending, name="sum_over_all"),
    _lamp(torch.square, lambda x: _at_or_after(x) - x, _ascending, name="strictly_after"),
    _lamp(
        torch.square,
        _at_or_after,
        lambda s: torch.argsort(s, descending=True, stable=True),
        name="descending_order",
    ),
    _lamp(torch.square, _at_or_after, _ascending, restore=False, name="order_not_restored"),
    _lamp(lambda w: w, _at_or_after, _ascending, name="signed_weights"),
    _lamp(
        torch.square,
        _at_or_after,
        lambda s: len(s) - 1 - torch.argsort(s.flip(0), stable=True),
        name="ties_reversed",
    ),
    _lamp(torch.square, _at_or_after, _ascending, name="nan_for_zero_layers"),
):
    wrong("04.ex1")(_fn)


@wrong("04.ex1")
def lamp_in_place(w):
    w.square_()
    return _lamp(torch.sqrt, _at_or_after, _ascending)(w)


@right("04.ex1")
def lamp_quadratic_loop(w):
    flat = w.reshape(-1).tolist()
    order = sorted(range(len(flat)), key=lambda i: (flat[i] ** 2, i))
    position = {i: rank for rank, i in enumerate(order)}
    scores = []
    for i, x in enumerate(flat):
        below = sum(flat[j] ** 2 for j in order[position[i] :])
        scores.append(x**2 / below if below else 0.0)
    return torch.tensor(scores).reshape(w.shape)


@right("04.ex1")
def lamp_total_minus_cumsum(w):
    s = w.reshape(-1).pow(2)
    order = torch.sort(s, stable=True).indices
    ordered = s[order]
    before = ordered.cumsum(0) - ordered
    rest = ordered.sum() - before
    scores = torch.empty_like(s)
    scores[order] = torch.nan_to_num(ordered / rest, nan=0.0)
    return scores.view(w.shape)


# --- 05.ex1 cubic schedule ------------------------------------------------------------------

for _name, _fn in {
    "linear": lambda t, f, n, initial=0.0: initial + (f - initial) * min(max(t, 0), n) / n,
    "square": lambda t, f, n, initial=0.0: f + (initial - f) * (1 - min(max(t, 0), n) / n) ** 2,
    "no_clamp_after": lambda t, f, n, initial=0.0: f + (initial - f) * (1 - max(t, 0) / n) ** 3,
    "no_clamp_before": lambda t, f, n, initial=0.0: f + (initial - f) * (1 - min(t, n) / n) ** 3,
    "cube_in_the_wrong_place": lambda t, f, n, initial=0.0: (
        initial + (f - initial) * (min(max(t, 0), n) / n) ** 3
    ),
    "initial_and_final_swapped": lambda t, f, n, initial=0.0: (
        initial + (f - initial) * (1 - t / n) ** 3 if 0 <= t <= n else (initial if t > n else f)
    ),
    "off_by_one_step": lambda t, f, n, initial=0.0: (
        f + (initial - f) * (1 - min(max(t + 1, 0), n) / n) ** 3
    ),
    "percentage": lambda t, f, n, initial=0.0: (
        100 * (f + (initial - f) * (1 - min(max(t, 0), n) / n) ** 3)
    ),
    "integer_division": lambda t, f, n, initial=0.0: (
        f + (initial - f) * (1 - min(max(t, 0), n) // n) ** 3
    ),
    "initial_ignored": lambda t, f, n, initial=0.0: f - f * (1 - min(max(t, 0), n) / n) ** 3,
}.items():
    _fn.__name__ = _name
    wrong("05.ex1")(_fn)


@right("05.ex1")
def cubic_with_numpy(t, final, steps, initial=0.0):
    progress = float(np.clip(t / steps, 0.0, 1.0))
    return float(initial + (final - initial) * (1.0 - (1.0 - progress) ** 3))


@right("05.ex1")
def cubic_piecewise(t, final, steps, initial=0.0):
    if t <= 0:
        return float(initial)
    if t >= steps:
        return float(final)
    remaining = (steps - t) / steps
    return final - (final - initial) * remaining * remaining * remaining


@right("05.ex1")
def cubic_with_library(t, final, steps, initial=0.0):
    from pruning_lessons.weights.schedules import cubic_sparsity

    return cubic_sparsity(t, final, initial=initial, steps=steps)


# --- 06.ex1 amounts within a budget ---------------------------------------------------------


def _left(amounts, sizes, count=round):
    return sum(sizes[n] - count(a * sizes[n]) for n, a in amounts.items())


def _for_tolerance(scan, tolerance, strict=False):
    def allowed(acc):
        drop = scan.baseline - acc
        return drop < tolerance if strict else drop <= tolerance

    return {
        name: max(
            (a for a, acc in zip(scan.amounts, accs, strict=True) if allowed(acc)), default=0.0
        )
        for name, accs in scan.accuracy.items()
    }


def _drops(scan):
    return sorted({0.0} | {scan.baseline - a for accs in scan.accuracy.values() for a in accs})


def _budget(order=_drops, fits=lambda am, sizes, b: _left(am, sizes) <= b, strict=False, name=""):
    def fn(scan, sizes, max_remaining):
        for tolerance in order(scan):
            amounts = _for_tolerance(scan, tolerance, strict)
            if fits(amounts, sizes, max_remaining):
                return amounts
        raise ValueError("no tolerance fits")

    fn.__name__ = name
    return fn


for _fn in (
    _budget(fits=lambda am, sizes, b: True, name="ignores_the_budget"),
    _budget(order=lambda s: _drops(s)[::-1], name="largest_tolerance_first"),
    _budget(
        fits=lambda am, sizes, b: sum(round(a * sizes[n]) for n, a in am.items()) <= b,
        name="counts_pruned_not_remaining",
    ),
    _budget(order=lambda s: s.amounts, name="amounts_taken_for_drops"),
    _budget(strict=True, name="strict_comparison"),
    _budget(
        fits=lambda am, sizes, b: _left({k: am[k] for k in list(am)[:1]}, sizes) <= b,
        name="counts_the_first_layer_only",
    ),
):
    wrong("06.ex1")(_fn)


@wrong("06.ex1")
def budget_same_amount_everywhere(scan, sizes, max_remaining):
    for amount in scan.amounts:
        amounts = dict.fromkeys(scan.accuracy, amount)
        if _left(amounts, sizes) <= max_remaining:
            return amounts
    raise ValueError("no amount fits")


@wrong("06.ex1")
def budget_no_error_when_impossible(scan, sizes, max_remaining):
    try:
        return _budget()(scan, sizes, max_remaining)
    except ValueError:
        return _for_tolerance(scan, 1.0)


@wrong("06.ex1")
def budget_returns_a_list(scan, sizes, max_remaining):
    return list(_budget()(scan, sizes, max_remaining).values())


@right("06.ex1")
def budget_with_library(scan, sizes, max_remaining):
    from pruning_lessons.weights.analysis import amounts_for_budget

    drops = sorted({0.0, *(scan.baseline - a for accs in scan.accuracy.values() for a in accs)})
    for drop in drops:
        amounts = amounts_for_budget(scan, drop)
        if sum(n - round(amounts[k] * n) for k, n in sizes.items()) <= max_remaining:
            return amounts
    raise ValueError(f"cannot keep only {max_remaining} weights")


@right("06.ex1")
def budget_by_bisection(scan, sizes, max_remaining):
    drops = _drops(scan)
    if _left(_for_tolerance(scan, drops[-1]), sizes) > max_remaining:
        raise ValueError("impossible")
    low, high = 0, len(drops) - 1
    while low < high:
        middle = (low + high) // 2
        if _left(_for_tolerance(scan, drops[middle]), sizes) <= max_remaining:
            high = middle
        else:
            low = middle + 1
    return _for_tolerance(scan, drops[low])


# --- 06.ex2 capstone: prune to a budget ------------------------------------------------------


def _weights_and_others(model):
    import pruning_lessons as pl

    weights = sum(p.numel() for p in pl.prunable_parameters(model).values())
    return weights, pl.count_parameters(model) - weights


def _budget_amount(model):
    weights, others = _weights_and_others(model)
    return 1 - (capstone.MAX_NONZERO - others) / weights


@wrong("06.ex2")
def capstone_unpruned(model, data):
    return model


@wrong("06.ex2")
def capstone_half(model, data):
    import pruning_lessons as pl

    pl.magnitude_prune(model, 0.5, scope="global")
    return model


@wrong("06.ex2")
def capstone_far_too_far(model, data):
    import pruning_lessons as pl

    pl.magnitude_prune(model, 0.998, scope="global")
    return model


@wrong("06.ex2")
def capstone_zeros_that_grow_back(model, data):
    keep = {n: p.detach().abs() > 0 for n, p in model.named_parameters() if p.dim() > 1}
    import pruning_lessons as pl

    masks = pl.global_magnitude_masks([model.get_parameter(n) for n in keep], _budget_amount(model))
    with torch.no_grad():
        for name, mask in zip(keep, masks, strict=True):
            model.get_parameter(name).mul_(mask)  # zeros, but no mask kept for training
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = data.train.tensors
    for start in range(0, 256, 32):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x[start : start + 32]), y[start : start + 32]).backward()
        optimizer.step()
    return model


@wrong("06.ex2")
def capstone_budget_on_weights_only(model, data):
    import pruning_lessons as pl

    weights, _ = _weights_and_others(model)
    pl.magnitude_prune(model, 1 - capstone.MAX_NONZERO / weights, scope="global")
    return model


@wrong("06.ex2")
def capstone_random_without_fine_tuning(model, data):
    import pruning_lessons as pl

    pl.prune_weights(model, _budget_amount(model), criterion="random", scope="global")
    return model


@wrong("06.ex2")
def capstone_returns_nothing(model, data):
    import pruning_lessons as pl

    pl.magnitude_prune(model, _budget_amount(model), scope="global")


@wrong("06.ex2")
def capstone_returns_the_masks(model, data):
    import pruning_lessons as pl

    return pl.magnitude_prune(model, _budget_amount(model), scope="global")


@wrong("06.ex2")
def capstone_crashes(model, data):
    return model(data.train.tensors[0].reshape(-1, 8, 8))


@right("06.ex2")
def capstone_lamp_then_fine_tune(model, data):
    import pruning_lessons as pl

    pl.prune_weights(model, _budget_amount(model), criterion="lamp", scope="global")
    pl.fine_tune(model, data, epochs=5)
    return model


@right("06.ex2")
def capstone_in_two_steps(model, data):
    import pruning_lessons as pl

    final = _budget_amount(model)
    for amount in (0.7, final):
        pl.magnitude_prune(model, amount, scope="global")
        pl.fine_tune(model, data, epochs=3)
    return model


# --- 10.ex1 the Wanda mask: its wrong and right answers live in test_exercise_llm.py ----------

WRONG["10.ex1"] = list(test_exercise_llm.WRONG)
RIGHT["10.ex1"] = [test_exercise_llm.with_a_loop, test_exercise_llm.with_linalg]


# --- 08.ex5 attention heads under GQA: its answers live in test_exercise_heads.py ------------

WRONG["08.ex5"] = [fn for fn, _ in test_exercise_heads.WRONG]
RIGHT["08.ex5"] = [test_exercise_heads.by_masks, test_exercise_heads.by_index_select]


# --- issue #23: the kinds of wrong answers real learners wrote, per exercise ------------------
# Answers that only work on the example's inputs (a hard-coded threshold, group size, stride or
# channel count), counting and rounding slips (int() for round(), halves rounded up, the target
# counted over the non-zeros, k as a sum of per-layer roundings, frozen or nested parameters),
# masks kept on gradients and momentum but never re-applied, shared bias Parameters, BatchNorm
# rebuilt with the default eps, a conv assumed to have a bias, and the test split misused.


def _half_up(x):
    return math.floor(x + 0.5)


@wrong("07.ex1")
def threshold_hard_coded(w, t):
    return w.abs() > 0.25


@wrong("07.ex1")
def threshold_from_the_mean(w, t):
    return w.abs() > w.abs().mean()


@wrong("07.ex1")
def threshold_first_row_only(w, t):
    keep = torch.ones_like(w, dtype=torch.bool)
    keep[0] = w[0].abs() > t
    return keep


@right("07.ex1")
def threshold_with_where(w, t):
    return torch.where(w.abs() > t, True, False)


for _fn in (
    _by_order(lambda w: torch.argsort(w.abs().flatten(), stable=True), _half_up, "halves_up"),
):
    wrong("07.ex2")(_fn)


@wrong("07.ex2")
def amount_counted_over_the_nonzeros(w, amount):
    k = round(amount * int(torch.count_nonzero(w)))
    keep = torch.ones(w.numel(), dtype=torch.bool)
    keep[torch.argsort(w.abs().flatten(), stable=True)[:k]] = False
    return keep.reshape(w.shape)


@wrong("07.ex2")
def amount_per_row(w, amount):
    rows = w.reshape(w.shape[0], -1) if w.dim() > 1 else w.reshape(1, -1)
    k = round(amount * rows.shape[1])
    keep = torch.ones_like(rows, dtype=torch.bool)
    keep.scatter_(1, torch.argsort(rows.abs(), dim=1, stable=True)[:, :k], False)
    return keep.reshape(w.shape)


@wrong("07.ex2")
def amount_nonzeros_only_ranked(w, amount):  # zeros are skipped: they "are pruned already"
    k = round(amount * w.numel())
    flat = w.abs().flatten()
    order = torch.argsort(torch.where(flat == 0, torch.inf, flat), stable=True)
    keep = torch.ones(w.numel(), dtype=torch.bool)
    keep[order[:k]] = False
    return keep.reshape(w.shape)


def _global(k_of, score=lambda ws: torch.cat([w.abs().flatten() for w in ws.values()]), name=""):
    def fn(ws, amount):
        flat = score(ws)
        keep = torch.ones(flat.numel(), dtype=torch.bool)
        keep[torch.argsort(flat, stable=True)[: k_of(ws, amount)]] = False
        return _split(keep, ws)

    fn.__name__ = name
    return fn


def _total(ws):
    return sum(w.numel() for w in ws.values())


for _fn in (
    _global(lambda ws, a: sum(round(a * w.numel()) for w in ws.values()), name="k_per_layer_sum"),
    _global(lambda ws, a: _half_up(a * _total(ws)), name="global_halves_up"),
    _global(
        lambda ws, a: round(a * sum(int(torch.count_nonzero(w)) for w in ws.values())),
        name="global_counted_over_the_nonzeros",
    ),
    _global(
        lambda ws, a: round(a * _total(ws)),
        score=lambda ws: torch.cat([(w.abs() / w.abs().max()).flatten() for w in ws.values()]),
        name="global_normalised_per_layer",
    ),
):
    wrong("07.ex3")(_fn)


@right("07.ex3")
def global_with_python_sorting(ws, amount):
    values = [
        (abs(float(x)), i) for i, x in enumerate(torch.cat([w.flatten() for w in ws.values()]))
    ]
    k = round(amount * len(values))
    keep = torch.ones(len(values), dtype=torch.bool)
    for _, i in sorted(values)[:k]:
        keep[i] = False
    return _split(keep, ws)


@wrong("07.ex4")
def masks_gradients_and_momentum_never_weights(model, masks, optimizer, x, y):
    optimizer.zero_grad()
    loss = _loss(model, x, y)
    loss.backward()
    for name, keep in masks.items():
        p = model.get_parameter(name)
        p.grad.mul_(keep)
        state = optimizer.state.get(p, {})
        if "momentum_buffer" in state:
            state["momentum_buffer"].mul_(keep)
    optimizer.step()
    return loss.item()


@right("07.ex4")
def step_then_copy_masked(model, masks, optimizer, x, y):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        for name, keep in masks.items():
            p = model.get_parameter(name)
            p.copy_(torch.where(keep, p, torch.zeros_like(p)))
    return float(loss.detach())


@wrong("08.ex1")
def neurons_next_bias_shared(layer, next_layer, keep):
    new, new_next = structural.remove_neurons(layer, next_layer, keep)
    new_next.bias = next_layer.bias  # the original's Parameter: training one trains both
    return new, new_next


@wrong("08.ex1")
def neurons_four_assumed(layer, next_layer, keep):
    four = keep[:4] if len(keep) >= 4 else torch.cat([keep, keep])[:4]
    return structural.remove_neurons(layer, next_layer, four)


@wrong("08.ex1")
def neurons_first_ones_kept(layer, next_layer, keep):
    return structural.remove_neurons(layer, next_layer, torch.arange(len(keep)))


@right("08.ex1")
def neurons_by_state_dict(layer, next_layer, keep):
    new = nn.Linear(layer.in_features, len(keep), bias=layer.bias is not None)
    new_next = nn.Linear(len(keep), next_layer.out_features, bias=next_layer.bias is not None)
    state = {"weight": layer.weight.detach()[keep].clone()}
    if layer.bias is not None:
        state["bias"] = layer.bias.detach()[keep].clone()
    new.load_state_dict(state)
    state = {"weight": next_layer.weight.detach()[:, keep].clone()}
    if next_layer.bias is not None:
        state["bias"] = next_layer.bias.detach().clone()
    new_next.load_state_dict(state)
    return new, new_next


@wrong("08.ex2")
def filters_bn_default_eps(conv, bn, next_conv, keep):
    new_conv, new_bn, new_next = structural.remove_filters(conv, bn, next_conv, keep)
    rebuilt = nn.BatchNorm2d(len(keep))  # eps and momentum back to the defaults
    rebuilt.load_state_dict(new_bn.state_dict())
    return new_conv, rebuilt, new_next


@wrong("08.ex2")
def filters_conv_assumed_to_have_a_bias(conv, bn, next_conv, keep):
    new_conv, new_bn, new_next = structural.remove_filters(conv, bn, next_conv, keep)
    new_conv.bias = nn.Parameter(conv.bias[keep].detach().clone())
    return new_conv, new_bn, new_next


@wrong("08.ex2")
def filters_bias_added(conv, bn, next_conv, keep):
    new_conv, new_bn, new_next = structural.remove_filters(conv, bn, next_conv, keep)
    if new_conv.bias is None:
        new_conv.bias = nn.Parameter(torch.zeros(len(keep)))
    return new_conv, new_bn, new_next


@wrong("08.ex2")
def filters_four_assumed(conv, bn, next_conv, keep):
    new_conv, new_bn, new_next = structural.remove_filters(conv, bn, next_conv, keep)
    new_conv.out_channels = new_bn.num_features = new_next.in_channels = 4  # the example's 4
    return new_conv, new_bn, new_next


@right("08.ex2")
def filters_index_select(conv, bn, next_conv, keep):
    new_conv, new_bn, new_next = (copy.deepcopy(m) for m in (conv, bn, next_conv))
    with torch.no_grad():
        new_conv.weight = nn.Parameter(conv.weight.index_select(0, keep).clone())
        if conv.bias is not None:
            new_conv.bias = nn.Parameter(conv.bias.index_select(0, keep).clone())
        for name in ("weight", "bias"):
            setattr(new_bn, name, nn.Parameter(getattr(bn, name).index_select(0, keep).clone()))
        for name in ("running_mean", "running_var"):
            setattr(new_bn, name, getattr(bn, name).index_select(0, keep).clone())
        new_next.weight = nn.Parameter(next_conv.weight.index_select(1, keep).clone())
    new_conv.out_channels = new_bn.num_features = new_next.in_channels = len(keep)
    return new_conv, new_bn, new_next


for _name, _fn in {
    "height_squared": lambda keep, h, w: structural.flatten_keep(keep, h, h),
    "four_features_per_channel": lambda keep, h, w: structural.flatten_keep(keep, 2, 2),
}.items():
    _fn.__name__ = _name
    wrong("08.ex3")(_fn)


@right("08.ex3")
def flatten_by_a_loop(keep, height, width):
    features = []
    for channel in keep.tolist():
        features.extend(range(channel * height * width, (channel + 1) * height * width))
    return torch.tensor(features, dtype=torch.long)


@wrong("08.ex4")
def drop_always_the_third_child(model, name):
    names = [n for n, _ in model.named_children()]
    _check_width(model, names[2])
    return _without(model, {names[2], names[3]})


@wrong("08.ex4")
def drop_the_next_child_whatever_it_is(model, name):
    _check_width(model, name)
    return _without(model, {name, _after(model, name)})


@wrong("08.ex4")
def drop_width_checked_as_six(model, name):
    layer = model.get_submodule(name)
    if layer.out_features != 6:
        raise ValueError(f"{name} changes the width")
    return structural.drop_layer(model, name)


@right("08.ex4")
def drop_by_rebuilding_a_list(model, name):
    layer = getattr(model, name)
    if not isinstance(layer, nn.Linear) or layer.weight.shape[0] != layer.weight.shape[1]:
        raise ValueError(f"cannot remove {name}: its widths differ")
    children = list(model.named_children())
    at = [n for n, _ in children].index(name)
    skip = {at}
    if at + 1 < len(children) and isinstance(children[at + 1][1], nn.ReLU):
        skip.add(at + 1)
    kept = OrderedDict((n, copy.deepcopy(m)) for i, (n, m) in enumerate(children) if i not in skip)
    return nn.Sequential(kept)


@wrong("01.ex1")
def ratio_trainable_only(model):
    params = [p for p in model.parameters() if p.requires_grad]
    total = sum(p.numel() for p in params)
    nonzero = sum(int(torch.count_nonzero(p)) for p in params)
    return total / nonzero if nonzero else float("inf")


@wrong("01.ex1")
def ratio_top_level_layers_only(model):
    params = [p for child in model.children() for p in child.parameters(recurse=False)] or list(
        model.parameters(recurse=False)
    )
    total = sum(p.numel() for p in params)
    nonzero = sum(int(torch.count_nonzero(p)) for p in params)
    return total / nonzero if nonzero else float("inf")


@right("01.ex1")
def ratio_from_named_parameters(model):
    sizes = {name: (p.numel(), int((p != 0).sum())) for name, p in model.named_parameters()}
    total = sum(n for n, _ in sizes.values())
    kept = sum(k for _, k in sizes.values())
    return total / kept if kept else math.inf


@wrong("02.ex1")
def nm_groups_of_four(w, n=2, m=4):
    return _nm(_rows_of)(w, n, 4) if w.shape[1] % 4 == 0 else _nm(_rows_of)(w, n, m)


@wrong("02.ex1")
def nm_keeps_half(w, n=2, m=4):
    return _nm(_rows_of)(w, m // 2, m)


@right("02.ex1")
def nm_with_numpy(w, n=2, m=4):
    rows, cols = w.shape
    if cols % m:
        raise ValueError("the row length must be a multiple of m")
    groups = np.abs(w.detach().numpy()).reshape(rows, cols // m, m)
    order = np.argsort(groups, axis=-1, kind="stable")
    keep = np.ones_like(groups, dtype=bool)
    np.put_along_axis(keep, order[..., : m - n], False, axis=-1)
    return torch.from_numpy(keep.reshape(rows, cols))


@wrong("03.ex1")
def macs_first_stride_for_both(conv, h, w):
    (kh, kw), (s, _), (ph, pw) = conv.kernel_size, conv.stride, conv.padding
    return (
        conv.out_channels * ((h + 2 * ph - kh) // s + 1) * ((w + 2 * pw - kw) // s + 1) * _per(conv)
    )


@wrong("03.ex1")
def macs_first_padding_for_both(conv, h, w):
    (kh, kw), (sh, sw), (p, _) = conv.kernel_size, conv.stride, conv.padding
    return (
        conv.out_channels * ((h + 2 * p - kh) // sh + 1) * ((w + 2 * p - kw) // sw + 1) * _per(conv)
    )


@right("03.ex1")
def macs_on_the_meta_device(conv, h, w):
    with torch.device("meta"):
        out = nn.functional.conv2d(
            torch.empty(1, conv.in_channels, h, w),
            torch.empty(conv.weight.shape),
            stride=conv.stride,
            padding=conv.padding,
            groups=conv.groups,
        )
    return int(out.shape[-2] * out.shape[-1]) * conv.weight.numel()


@wrong("04.ex1")
def lamp_per_row(w):
    if w.dim() < 2:
        return _lamp(torch.square, _at_or_after, _ascending)(w)
    return torch.stack([_lamp(torch.square, _at_or_after, _ascending)(row) for row in w])


@wrong("04.ex1")
def lamp_normalised_to_the_largest(w):
    scores = _lamp(torch.square, _at_or_after, _ascending)(w)
    return scores / scores.max() if scores.max() > 0 else scores


@wrong("04.ex1")
def lamp_numpy_result(w):
    return _lamp(torch.square, _at_or_after, _ascending)(w).numpy()


@right("04.ex1")
def lamp_with_sort_and_scatter(w):
    s = w.flatten() ** 2
    ordered, order = torch.sort(s, stable=True)
    tail = torch.flip(torch.cumsum(torch.flip(ordered, [0]), 0), [0])
    scores = torch.where(tail > 0, ordered / tail.clamp_min(1e-300), torch.zeros_like(tail))
    return torch.zeros_like(s).scatter(0, order, scores).reshape(w.shape)


for _name, _fn in {
    "steps_hard_coded": lambda t, f, n, initial=0.0: (
        f + (initial - f) * (1 - min(max(t, 0), 10) / 10) ** 3
    ),
    "rounded_result": lambda t, f, n, initial=0.0: round(
        f + (initial - f) * (1 - min(max(t, 0), n) / n) ** 3, 2
    ),
}.items():
    _fn.__name__ = _name
    wrong("05.ex1")(_fn)


for _fn in (
    _budget(fits=lambda am, sizes, b: _left(am, sizes, int) <= b, name="int_for_round"),
    _budget(fits=lambda am, sizes, b: _left(am, sizes, _half_up) <= b, name="budget_halves_up"),
    _budget(
        fits=lambda am, sizes, b: sum(sizes.values()) * (1 - sum(am.values()) / len(am)) <= b,
        name="mean_amount_times_total",
    ),
):
    wrong("06.ex1")(_fn)


@right("06.ex1")
def budget_by_scanning_tolerances_in_a_loop(scan, sizes, max_remaining):
    tolerances = {0.0}
    for accuracies in scan.accuracy.values():
        tolerances.update(scan.baseline - a for a in accuracies)
    for tolerance in sorted(tolerances):
        amounts = {}
        for name, accuracies in scan.accuracy.items():
            allowed = [a for a, acc in zip(scan.amounts, accuracies, strict=True)]
            allowed = [
                a
                for a, acc in zip(allowed, accuracies, strict=True)
                if scan.baseline - acc <= tolerance
            ]
            amounts[name] = max(allowed, default=0.0)
        if sum(sizes[n] - round(a * sizes[n]) for n, a in amounts.items()) <= max_remaining:
            return amounts
    raise ValueError("the budget cannot be met")


@wrong("06.ex2")
def capstone_fine_tunes_on_the_test_split(model, data):
    import pruning_lessons as pl

    pl.magnitude_prune(model, _budget_amount(model), scope="global")
    pl.fine_tune(model, data.test, epochs=5)
    return model


@wrong("06.ex2")
def capstone_chooses_epochs_on_the_test_split(model, data):
    import pruning_lessons as pl

    pl.magnitude_prune(model, _budget_amount(model), scope="global")
    best, best_state = -1.0, None
    for _ in range(4):
        pl.fine_tune(model, data, epochs=1)
        accuracy = pl.evaluate(model, data.test)
        if accuracy > best:
            best, best_state = accuracy, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return model


@wrong("06.ex2")
def capstone_weights_moved_into_buffers(model, data):
    for layer in [m for m in model.modules() if isinstance(m, nn.Linear)]:
        for name in ("weight", "bias"):
            value = getattr(layer, name).detach().clone()
            del layer._parameters[name]
            layer.register_buffer(name, value)  # not a parameter, so "not counted"
    return model


@right("06.ex2")
def capstone_epochs_chosen_on_validation(model, data):
    import pruning_lessons as pl

    pl.magnitude_prune(model, _budget_amount(model), scope="global")
    best, best_state = -1.0, None
    for _ in range(5):
        pl.fine_tune(model, data, epochs=1)
        accuracy = pl.evaluate(model, data.val)
        if accuracy > best:
            best, best_state = accuracy, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return model


def _heads_with(
    group_of=lambda att: att.num_heads // att.num_kv_heads, d_of=lambda att: att.head_dim, name=""
):
    def fn(att, keep):
        group, d = group_of(att), d_of(att)
        q_heads = (keep[:, None] * group + torch.arange(group)).flatten()
        q = test_exercise_heads._rows(q_heads, d)
        new = test_exercise_heads._build(
            att, q, test_exercise_heads._rows(keep, d), q, counts=False
        )
        new.num_heads, new.num_kv_heads = len(q_heads), len(keep)
        return new

    fn.__name__ = name
    return fn


for _fn in (
    _heads_with(group_of=lambda att: 2, name="heads_group_of_two"),
    _heads_with(d_of=lambda att: 2, name="heads_head_dim_of_two"),
    _heads_with(group_of=lambda att: att.num_kv_heads, name="heads_group_is_the_kv_count"),
):
    wrong("08.ex5")(_fn)


@right("08.ex5")
def heads_by_a_loop_over_heads(att, keep):
    d, group = att.head_dim, att.num_heads // att.num_kv_heads
    kv_rows, q_rows = [], []
    for j in keep.tolist():
        kv_rows += list(range(j * d, (j + 1) * d))
        for h in range(j * group, (j + 1) * group):
            q_rows += list(range(h * d, (h + 1) * d))
    q, kv = torch.tensor(q_rows), torch.tensor(kv_rows)
    new = test_exercise_heads._build(att, q, kv, q, counts=False)
    new.num_heads, new.num_kv_heads = len(q_rows) // d, len(kv_rows) // d
    return new


@right("10.ex1")
def wanda_by_ranks(weight, batches, amount):
    tokens = torch.cat([b.reshape(-1, b.shape[-1]) for b in batches])
    scores = weight.abs() * tokens.pow(2).sum(0).sqrt()
    k = round(amount * weight.shape[1])
    ranks = torch.argsort(torch.argsort(scores, dim=1, stable=True), dim=1)
    return ranks >= k


# --- the tests ------------------------------------------------------------------------------

CHECKED = sorted(k for k in ALL if k in WRONG)
WRONG_CASES = [(k, fn) for k in CHECKED for fn in WRONG[k]]
RIGHT_CASES = [(k, fn) for k in CHECKED for fn in RIGHT.get(k, [])]


def _ids(value):
    return getattr(value, "__name__", value)


def test_every_exercise_has_12_wrong_and_3_right_implementations():
    assert set(CHECKED) == set(ALL), f"exercises without mutants: {set(ALL) - set(CHECKED)}"
    for key in ALL:
        assert len(WRONG[key]) >= 12, key
        assert len(RIGHT.get(key, [])) >= 3, key
        names = [fn.__name__ for fn in WRONG[key] + RIGHT[key]]
        assert len(set(names)) == len(names), key


def test_wrong_and_right_attempts_in_any_order_in_one_process():
    """Issue #23: a check never depends on what an earlier attempt did in the same kernel."""
    attempts = [(k, fn, "incorrect") for k, fn in WRONG_CASES]
    attempts += [(k, fn, "correct") for k, fn in RIGHT_CASES]
    random.Random(23).shuffle(attempts)
    assert {expected for _, _, expected in attempts[:20]} == {"correct", "incorrect"}
    verdicts = [(k, fn.__name__, ALL[k].check(fn).status, expected) for k, fn, expected in attempts]
    assert [v for v in verdicts if v[2] != v[3]] == []


@pytest.mark.parametrize(("key", "fn"), WRONG_CASES, ids=_ids)
def test_a_wrong_implementation_is_rejected_without_the_answer(key, fn):
    exercise = ALL[key]
    feedback = exercise.check(fn)
    assert feedback.status == "incorrect", feedback
    assert "tensor(" not in feedback.message
    body = inspect.getsource(exercise.reference).split('"""')[-1]
    for line in body.splitlines():
        if len(line.strip()) > 25:
            assert line.strip() not in feedback.message


@pytest.mark.parametrize(("key", "fn"), RIGHT_CASES, ids=_ids)
def test_a_right_implementation_written_differently_is_accepted(key, fn):
    feedback = ALL[key].check(fn)
    assert feedback.status == "correct", feedback.message
