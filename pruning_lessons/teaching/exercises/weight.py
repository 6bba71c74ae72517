"""Exercise 07, weight pruning: from a threshold mask to a training step that keeps zeros."""

from __future__ import annotations

import torch
from torch import nn

from .core import Exercise

# --- reference solutions ---------------------------------------------------------------------


def threshold_mask(weight: torch.Tensor, threshold: float) -> torch.Tensor:
    """Keep-mask: True where |w| > threshold (so |w| <= threshold is pruned)."""
    return weight.abs() > threshold


def amount_mask(weight: torch.Tensor, amount: float) -> torch.Tensor:
    """Keep-mask pruning exactly round(amount * n) smallest |w|; ties: lower index first."""
    k = round(amount * weight.numel())
    order = torch.argsort(weight.abs().flatten(), stable=True)  # smallest first, ties by index
    keep = torch.ones(weight.numel(), dtype=torch.bool, device=weight.device)
    keep[order[:k]] = False
    return keep.reshape(weight.shape)


def global_masks(weights: dict[str, torch.Tensor], amount: float) -> dict[str, torch.Tensor]:
    """One keep-mask per tensor; round(amount * total) smallest |w| pruned across all of them."""
    flat = torch.cat([w.flatten() for w in weights.values()])
    keep = amount_mask(flat, amount)
    masks, start = {}, 0
    for name, w in weights.items():
        masks[name] = keep[start : start + w.numel()].reshape(w.shape)
        start += w.numel()
    return masks


def masked_step(
    model: nn.Module,
    masks: dict[str, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
) -> float:
    """One training step after which every pruned weight is exactly zero again."""
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        for name, keep in masks.items():
            model.get_parameter(name).mul_(keep)
    return loss.item()


# --- properties: each returns a complaint in plain words, or None ----------------------------


def _w():
    """A fresh copy each call: a learner's function may edit what it gets."""
    return torch.tensor([[0.5, -0.9, 0.1], [-0.2, 0.3, -0.05]])


def _mask_shape(fn, *args) -> str | None:
    weight = args[0]
    mask = fn(*args)
    if isinstance(mask, list | tuple):
        return (
            "your function returned a Python list. A list of the surviving weights has lost the "
            "matrix's shape, so the layer can no longer run; return a mask tensor of the "
            "weight's shape instead."
        )
    if not torch.is_tensor(mask):
        return f"expected a tensor, got {type(mask).__name__}"
    if mask.shape != weight.shape:
        return f"the mask has shape {tuple(mask.shape)} but the weight has {tuple(weight.shape)}"
    if mask.dtype != torch.bool:
        return f"the mask should be boolean (True = keep), but its dtype is {mask.dtype}"
    return None


def _threshold_shape(fn):
    return _mask_shape(fn, _w().clone(), 0.25)


def _threshold_keeps_large(fn):
    mask = fn(_w().clone(), 0.25)
    if not mask[0, 0]:
        return "the weight 0.5 (above the threshold 0.25) was pruned: True must mean keep"
    if not mask[0, 1]:
        return (
            "the weight -0.9 was pruned although its magnitude is above the threshold: "
            "compare |w|, not the signed value"
        )
    return None


def _threshold_prunes_small(fn):
    mask = fn(_w().clone(), 0.25)
    if mask[0, 2] or mask[1, 2]:
        return "a weight with |w| below the threshold was kept"
    if mask[1, 0]:
        return "the weight -0.2 was kept: small negative weights must go as well"
    return None


def _threshold_boundary(fn):
    mask = fn(torch.tensor([0.25, -0.25, 0.26]), 0.25)
    if mask[0] or mask[1]:
        return "a weight whose magnitude equals the threshold was kept: |w| <= threshold goes"
    if not mask[2]:
        return "a weight just above the threshold was pruned"
    return None


def _threshold_other_values(fn):
    weight = torch.tensor([[0.05, -0.12, 0.3], [-0.6, 0.9, 0.45]])
    for threshold in (0.1, 0.5):
        mask = fn(weight.clone(), threshold)
        if not torch.equal(mask, weight.abs() > threshold):
            return (
                f"with the threshold {threshold} the mask is wrong: compare each |w| with the "
                "threshold you are given (not a fixed number or one taken from the weights)"
            )
    return None


def _leaves_input_alone(fn, *args):
    weight = args[0]
    before = weight.clone()
    fn(*args)
    if not torch.equal(weight, before):
        return "your function changed the weights it was given; build a mask and leave them be"
    return None


def _threshold_pure(fn):
    return _leaves_input_alone(fn, _w().clone(), 0.25)


def _amount_shape(fn):
    return _mask_shape(fn, _w().clone(), 0.5)


def _amount_count(fn):
    weight = torch.arange(1.0, 11.0)
    for amount in (0.29, 0.0, 1.0, 0.45):
        pruned = int((~fn(weight, amount)).sum())
        target = round(amount * 10)
        if pruned != target:
            return (
                f"with amount={amount} on 10 weights you pruned {pruned}; the target is "
                f"round(amount * n) = {target} (Python rounding, like torch.nn.utils.prune)"
            )
    return None


def _amount_matrix(fn):
    """A 2-D weight: the count and the ranking are over the whole matrix, not per row."""
    weight = torch.randperm(80, generator=torch.Generator().manual_seed(0)).float().reshape(10, 8)
    weight = (weight + 1) * torch.where(torch.arange(80).reshape(10, 8) % 3 == 0, -1.0, 1.0)
    mask = fn(weight, 0.9)
    pruned = int((~mask).sum())
    if pruned != 72:
        return (
            f"on a 10 x 8 weight with amount=0.9 you pruned {pruned} weights; the target is "
            "round(0.9 * 80) = 72. Rank all the weights of the matrix together, not one row or "
            "one column at a time"
        )
    if weight[~mask].abs().max() > weight[mask].abs().min():
        return (
            "on a 10 x 8 weight, a larger |w| was pruned while a smaller one was kept: all "
            "weights of the matrix compete together"
        )
    return None


def _amount_smallest(fn):
    weight = torch.tensor([0.9, -0.1, 0.5, -0.7, 0.3, 0.05])
    mask = fn(weight, 0.5)
    kept, pruned = weight[mask].abs(), weight[~mask].abs()
    if len(kept) and len(pruned) and pruned.max() > kept.min():
        return (
            f"a weight with |w| = {pruned.max():.2f} was pruned while one with "
            f"|w| = {kept.min():.2f} was kept; the smallest magnitudes go first (use |w|)"
        )
    return None


def _amount_with_zeros(fn):
    weight = torch.tensor([0.0, 0.3, 0.0, -0.1, 0.5, 0.0, 0.2, -0.4])
    mask = fn(weight.clone(), 0.5)
    if int((~mask).sum()) != 4 or mask[[0, 2, 3, 5]].any():
        return (
            "on 8 weights of which 3 are already exactly zero, amount=0.5 must prune "
            "round(0.5 * 8) = 4: the target counts every weight, zeros included, and the zeros "
            "(the smallest |w|) go first"
        )
    return None


def _amount_ties(fn):
    mask = fn(torch.ones(2, 3), 0.5)
    if mask.flatten().tolist() != [False, False, False, True, True, True]:
        return (
            "with all weights equal, prune the lower flat indices first (a stable sort of "
            "|w| does this), so the result is the same on every run"
        )
    return None


def _amount_pure(fn):
    return _leaves_input_alone(fn, _w().clone(), 0.5)


def _layers():
    """A fresh copy each call: a learner's function may edit what it gets."""
    return {"a": torch.tensor([[0.01, -0.02], [0.03, 0.04]]), "b": torch.tensor([0.5, -0.6, 0.7])}


def _global_pure(fn):
    layers = {k: v.clone() for k, v in _layers().items()}
    fn(layers, 0.5)
    if any(not torch.equal(layers[k], v) for k, v in _layers().items()):
        return "your function changed the weights it was given; build masks and leave them be"
    return None


def _global_shapes(fn):
    masks = fn({k: v.clone() for k, v in _layers().items()}, 0.5)
    if not isinstance(masks, dict) or set(masks) != set(_layers()):
        return "return a dict with one mask per name you were given"
    for name, weight in _layers().items():
        if not torch.is_tensor(masks[name]) or masks[name].shape != weight.shape:
            return f"the mask for {name!r} must be a tensor of shape {tuple(weight.shape)}"
    return None


def _global_count(fn):
    masks = fn({k: v.clone() for k, v in _layers().items()}, 0.5)
    pruned = sum(int((~m.bool()).sum()) for m in masks.values())
    if pruned != round(0.5 * 7):
        return f"you pruned {pruned} weights in total; the target is round(0.5 * 7) = 4"
    return None


def _global_not_per_layer(fn):
    masks = fn({k: v.clone() for k, v in _layers().items()}, 0.5)
    if masks["b"].bool().sum() < 3:
        return (
            "each layer lost about the same share: that is per-layer pruning. In global "
            "pruning all weights compete, so layer 'a' (all tiny weights) should lose more"
        )
    return None


def _global_rounding(fn):
    cases = [
        (
            {"a": torch.tensor([0.1, 0.2, 0.3]), "b": torch.tensor([0.4, 0.5, 0.6])},
            3,
            "k is rounded once over all weights, round(0.5 * 6) = 3, not summed from per-layer "
            "roundings",
        ),
        (
            {"a": torch.tensor([0.1, 0.2]), "b": torch.tensor([0.3, 0.4, 0.5])},
            2,
            "round(0.5 * 5) = 2 with Python's round (halves go to the even number)",
        ),
        (
            {"a": torch.tensor([0.0, 0.2, 0.0]), "b": torch.tensor([0.3, 0.0, 0.5, 0.1])},
            4,
            "round(0.5 * 7) = 4 counts every weight, the ones already zero included",
        ),
    ]
    for layers, target, rule in cases:
        masks = fn({k: v.clone() for k, v in layers.items()}, 0.5)
        pruned = sum(int((~m.bool()).sum()) for m in masks.values())
        if pruned != target:
            sizes = " and ".join(str(v.numel()) for v in layers.values())
            return f"on layers of {sizes} weights at amount 0.5 you pruned {pruned}: {rule}"
    return None


def _global_ties(fn):
    masks = fn({"first": torch.ones(3), "second": torch.ones(2)}, 0.8)
    if masks["first"].bool().any() or masks["second"].bool().tolist() != [False, True]:
        return "with equal magnitudes, prune in concatenation order: the first tensor first"
    return None


def _training_setup(adam: bool = False):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    x, y = torch.randn(16, 6), torch.randint(0, 3, (16,))
    if adam:
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    for _ in range(3):  # the optimizer already has momentum when pruning happens
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    masks = {
        name: amount_mask(model.get_parameter(name).detach(), 0.5)
        for name in ("0.weight", "2.weight")
    }
    with torch.no_grad():
        for name, keep in masks.items():
            model.get_parameter(name).mul_(keep)
    return model, masks, optimizer, x, y


def _training_keeps_zeros(fn):
    model, masks, optimizer, x, y = _training_setup()
    for _ in range(5):
        fn(model, masks, optimizer, x, y)
    revived = sum(int((model.get_parameter(n)[~m] != 0).sum()) for n, m in masks.items())
    if revived:
        return (
            f"after 5 steps, {revived} pruned weights are no longer zero. The optimizer moved "
            "them: the gradient at a pruned position is generally not zero, and this optimizer "
            "has momentum from before pruning, which keeps moving a weight even once its "
            "gradient is masked. They must be exactly zero when your step returns"
        )
    return None


def _training_under_adam(fn):
    model, masks, optimizer, x, y = _training_setup(adam=True)
    for _ in range(3):
        fn(model, masks, optimizer, x, y)
    revived = sum(int((model.get_parameter(n)[~m] != 0).sum()) for n, m in masks.items())
    if revived:
        return (
            f"under Adam, after 3 steps {revived} pruned weights are no longer zero: its running "
            "averages (exp_avg) still move them whatever was done to the gradients or to "
            "SGD's momentum buffer. Re-apply the masks to the weights after optimizer.step()"
        )
    return None


def _training_returns_loss(fn):
    model, masks, optimizer, x, y = _training_setup()
    with torch.no_grad():
        expected = nn.functional.cross_entropy(model(x), y).item()
    loss = fn(model, masks, optimizer, x, y)
    if isinstance(loss, torch.Tensor):
        return "return the loss as a Python float (loss.item()), not a tensor"
    if not isinstance(loss, float):
        return f"return the batch's loss as a float; your function returned {type(loss).__name__}"
    if abs(loss - expected) > 1e-5:
        return "the returned number is not this batch's loss before the step"
    return None


def _training_follows_reference(fn):
    """Three steps: the kept weights must follow ordinary training exactly."""
    model, masks, optimizer, x, y = _training_setup()
    twin, twin_masks, twin_optimizer, _, _ = _training_setup()
    for step in range(3):
        xs, ys = x[step::3], y[step::3]
        fn(model, masks, optimizer, xs, ys)
        masked_step(twin, twin_masks, twin_optimizer, xs, ys)
    for name, p in model.named_parameters():
        if not torch.allclose(p, twin.get_parameter(name), atol=1e-5):
            return (
                f"after 3 steps on different batches, {name} differs from ordinary training of "
                "the kept weights: each step must use this batch's gradient only, and the "
                "optimizer it was given"
            )
    return None


def _training_learns(fn):
    model, masks, optimizer, x, y = _training_setup()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    fn(model, masks, optimizer, x, y)
    if all(torch.equal(before[n], p) for n, p in model.named_parameters()):
        return "no weight changed: the step should still train the surviving weights"
    kept_changed = any(
        not torch.equal(before[n][m], model.get_parameter(n)[m]) for n, m in masks.items()
    )
    if not kept_changed:
        return "the kept weights did not change: call optimizer.step() before re-masking"
    return None


def _training_bias_free(fn):
    model, masks, optimizer, x, y = _training_setup()
    fn(model, masks, optimizer, x, y)
    if any((layer.bias == 0).any() for layer in (model[0], model[2])):
        return "some biases were set to zero: only the weights named in masks are pruned"
    return None


# --- the exercises ---------------------------------------------------------------------------

ex1 = Exercise(
    "07.ex1",
    "a threshold mask",
    threshold_mask,
    [
        _threshold_shape,
        _threshold_keeps_large,
        _threshold_prunes_small,
        _threshold_boundary,
        _threshold_other_values,
        _threshold_pure,
    ],
    [
        "Do not remove numbers from the weight matrix: build a second tensor of the same shape "
        "that says, for each weight, keep (True) or prune (False).",
        "Comparisons on a tensor work element by element and give a boolean tensor: "
        "`weight > 0` has the weight's shape.",
        "Take the magnitude first: `weight.abs() > threshold`. Weights equal to the threshold "
        "are pruned, so the comparison is strict.",
    ],
)

ex2 = Exercise(
    "07.ex2",
    "a sparsity target",
    amount_mask,
    [
        _amount_shape,
        _amount_count,
        _amount_smallest,
        _amount_ties,
        _amount_with_zeros,
        _amount_matrix,
        _amount_pure,
    ],
    [
        "A target of 90 % on n weights prunes k = round(0.9 * n) of them: the k smallest |w|.",
        "Sort the magnitudes of the flattened weight and take the indices of the first k: "
        "`torch.argsort(weight.abs().flatten(), stable=True)[:k]`.",
        "Start from a mask of all True (`torch.ones(n, dtype=torch.bool)`), set those k "
        "indices to False, and reshape it to the weight's shape. Check amount 0 and 1 too.",
    ],
)

ex3 = Exercise(
    "07.ex3",
    "global vs per-layer pruning",
    global_masks,
    [
        _global_shapes,
        _global_count,
        _global_not_per_layer,
        _global_rounding,
        _global_ties,
        _global_pure,
    ],
    [
        "Global pruning ranks all weights of all layers together, so one threshold decides "
        "for every layer.",
        "Concatenate the flattened weights (`torch.cat`), build one mask for the long vector "
        "with your ex2 function, then cut it back into pieces.",
        "Walk over the layers in order, keeping a running offset: the mask of a layer with n "
        "weights is `flat_mask[offset : offset + n].reshape(weight.shape)`.",
    ],
)

ex4 = Exercise(
    "07.ex4",
    "masks that hold during training",
    masked_step,
    [
        _training_keeps_zeros,
        _training_under_adam,
        _training_learns,
        _training_bias_free,
        _training_returns_loss,
        _training_follows_reference,
    ],
    [
        "Run one ordinary step (zero_grad, forward, loss, backward, step) and look at a pruned "
        "weight afterwards: is it still zero?",
        "The gradient at a pruned position is generally not zero, so even plain SGD writes a "
        "value back into it; momentum built up before pruning keeps moving a weight even "
        "after its gradient is masked. (Weight decay is not the culprit: it adds wd * w, which "
        "is 0 for w = 0.)",
        "After `optimizer.step()`, inside `torch.no_grad()`, multiply each masked parameter "
        "by its mask: `model.get_parameter(name).mul_(keep)`.",
    ],
)

EXERCISES = (ex1, ex2, ex3, ex4)
