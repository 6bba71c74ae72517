"""Checker self-tests: the reference passes, a stub is 'not attempted', and curated wrong
implementations fail with the message meant for them."""

from __future__ import annotations

import copy
import warnings
from collections import OrderedDict

import pytest
import torch
from test_exercise_heads import WRONG as WRONG_HEADS
from torch import nn

from pruning_lessons.teaching.exercises import ALL, structural, weight
from pruning_lessons.teaching.exercises.core import Feedback


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise not attempted yet")


@pytest.mark.parametrize("key", sorted(ALL))
def test_reference_passes_and_stub_is_not_attempted(key):
    exercise = ALL[key]
    assert exercise.check(exercise.reference).status == "correct"
    assert exercise.check(stub).status == "not attempted"
    assert exercise.use(exercise.reference) is exercise.reference


# --- 07 -------------------------------------------------------------------------------------


def naive_list(w, t):
    return [x for x in w.flatten().tolist() if abs(x) > t]  # drops numbers: shape lost


def in_place_threshold(w, t):
    w[w.abs() <= t] = 0
    return w != 0


def _amount_by(order_fn, k_fn=round):
    def fn(w, amount):
        k = k_fn(amount * w.numel())
        keep = torch.ones(w.numel(), dtype=torch.bool)
        keep[order_fn(w.flatten())[:k]] = False
        return keep.reshape(w.shape)

    return fn


def in_place_amount(w, amount):
    w.abs_()
    return weight.amount_mask(w, amount)


def per_layer(ws, amount):
    return {n: weight.amount_mask(w, amount) for n, w in ws.items()}


def global_reversed_ties(ws, amount):
    names = list(ws)[::-1]
    masks = weight.global_masks({n: ws[n] for n in names}, amount)
    return {n: masks[n] for n in ws}


def global_truncates(ws, amount):
    flat = torch.cat([w.flatten() for w in ws.values()])
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    keep[torch.argsort(flat.abs(), stable=True)[: int(amount * flat.numel())]] = False
    out, start = {}, 0
    for n, w in ws.items():
        out[n] = keep[start : start + w.numel()].reshape(w.shape)
        start += w.numel()
    return out


def step_without_remask(model, masks, optimizer, x, y):
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()


def step_masking_gradients_only(model, masks, optimizer, x, y):
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    for name, keep in masks.items():
        model.get_parameter(name).grad.mul_(keep)
    optimizer.step()


def step_masking_everything(model, masks, optimizer, x, y):
    weight.masked_step(model, masks, optimizer, x, y)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 1:
                p.mul_(weight.amount_mask(p, 0.5))


def step_remask_before_step(model, masks, optimizer, x, y):
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    with torch.no_grad():
        for name, keep in masks.items():
            model.get_parameter(name).mul_(keep)
    optimizer.step()


def step_without_optimizer(model, masks, optimizer, x, y):
    with torch.no_grad():
        for name, keep in masks.items():
            model.get_parameter(name).mul_(keep)


WRONG_07 = [
    ("07.ex1", naive_list, "lost the matrix's shape"),
    ("07.ex1", lambda w, t: w.abs() >= t, "equals the threshold was kept"),
    ("07.ex1", lambda w, t: w > t, "compare |w|, not the signed value"),
    ("07.ex1", lambda w, t: w.abs() <= t, "True must mean keep"),
    ("07.ex1", lambda w, t: (w.abs() > t).float(), "should be boolean"),
    ("07.ex1", in_place_threshold, "changed the weights it was given"),
    ("07.ex1", lambda w, t: w.abs().flatten() > t, "has shape (6,)"),
    ("07.ex2", _amount_by(lambda f: torch.argsort(f.abs(), stable=True), int), "target is round"),
    (
        "07.ex2",
        _amount_by(lambda f: torch.argsort(f.abs(), stable=True), lambda v: round(v) + 1),
        "you pruned",
    ),
    ("07.ex2", _amount_by(lambda f: torch.argsort(f, stable=True)), "(use |w|)"),
    (
        "07.ex2",
        _amount_by(lambda f: torch.argsort(f.abs(), descending=True, stable=True)),
        "smallest magnitudes go first",
    ),
    (
        "07.ex2",  # ties broken towards the higher index
        _amount_by(lambda f: len(f) - 1 - torch.argsort(f.abs().flip(0), stable=True)),
        "lower flat",
    ),
    ("07.ex2", lambda w, a: weight.amount_mask(w, a).float(), "should be boolean"),
    ("07.ex2", in_place_amount, "changed the weights it was given"),
    ("07.ex3", per_layer, "per-layer pruning"),
    ("07.ex3", lambda ws, a: list(weight.global_masks(ws, a).values()), "one mask per name"),
    ("07.ex3", global_truncates, "the target is round(0.5 * 7) = 4"),
    ("07.ex3", global_reversed_ties, "concatenation order"),
    (
        "07.ex3",
        lambda ws, a: {n: m.flatten() for n, m in weight.global_masks(ws, a).items()},
        "must be a tensor of shape",
    ),
    ("07.ex4", step_without_remask, "no longer zero"),
    ("07.ex4", step_masking_gradients_only, "no longer zero"),
    ("07.ex4", step_masking_everything, "biases were set to zero"),
    ("07.ex4", step_remask_before_step, "no longer zero"),
    ("07.ex4", step_without_optimizer, "no weight changed"),
]


# --- 08 -------------------------------------------------------------------------------------


def neurons_forget_next(layer, next_layer, keep):
    new, _ = structural.remove_neurons(layer, next_layer, keep)
    return new, next_layer


def neurons_wrong_axis(layer, next_layer, keep):
    new = nn.Linear(len(keep), layer.out_features)
    with torch.no_grad():
        new.weight.copy_(layer.weight[:, keep])  # columns are inputs, not neurons
    return new, next_layer


def neurons_forget_bias(layer, next_layer, keep):
    new, new_next = structural.remove_neurons(layer, next_layer, keep)
    with torch.no_grad():
        new.bias.copy_(layer.bias[: len(keep)])
    return new, new_next


def neurons_in_place(layer, next_layer, keep):
    layer.weight = nn.Parameter(layer.weight[keep])
    layer.bias = nn.Parameter(layer.bias[keep])
    layer.out_features = len(keep)
    next_layer.weight = nn.Parameter(next_layer.weight[:, keep])
    next_layer.in_features = len(keep)
    return layer, next_layer


def neurons_no_size_update(layer, next_layer, keep):
    new, new_next = copy.deepcopy(layer), copy.deepcopy(next_layer)
    new.weight = nn.Parameter(layer.weight[keep].clone())
    new.bias = nn.Parameter(layer.bias[keep].clone())
    new_next.weight = nn.Parameter(next_layer.weight[:, keep].clone())
    return new, new_next


def neurons_slice_next_bias(layer, next_layer, keep):
    new, new_next = structural.remove_neurons(layer, next_layer, keep)
    with torch.no_grad():
        new_next.bias.zero_()
    return new, new_next


def neurons_wrong_ones(layer, next_layer, keep):
    removed = torch.tensor([i for i in range(layer.out_features) if i not in keep.tolist()])
    dropped = torch.cat([removed, keep[: len(keep) - len(removed)]])
    return structural.remove_neurons(layer, next_layer, dropped)


def filters_forget_running_stats(conv, bn, next_conv, keep):
    new_conv, new_bn, new_next = structural.remove_filters(conv, bn, next_conv, keep)
    new_bn.running_mean, new_bn.running_var = bn.running_mean.clone(), bn.running_var.clone()
    return new_conv, new_bn, new_next


def filters_forget_bn(conv, bn, next_conv, keep):
    new_conv, _, new_next = structural.remove_filters(conv, bn, next_conv, keep)
    return new_conv, copy.deepcopy(bn), new_next


def filters_forget_next(conv, bn, next_conv, keep):
    new_conv, new_bn, _ = structural.remove_filters(conv, bn, next_conv, keep)
    return new_conv, new_bn, copy.deepcopy(next_conv)


def filters_bn_first_channels(conv, bn, next_conv, keep):
    new_conv, new_bn, new_next = structural.remove_filters(conv, bn, next_conv, keep)
    first = torch.arange(len(keep))
    _, wrong_bn, _ = structural.remove_filters(conv, bn, next_conv, first)
    return new_conv, wrong_bn, new_next


def filters_in_place(conv, bn, next_conv, keep):
    conv.weight = nn.Parameter(conv.weight[keep])
    return structural.remove_filters(copy.deepcopy(conv), bn, next_conv, torch.arange(len(keep)))


def filters_next_in_place(conv, bn, next_conv, keep):
    new_conv, new_bn, _ = structural.remove_filters(conv, bn, next_conv, keep)
    next_conv.weight = nn.Parameter(next_conv.weight[:, keep])  # edits the caller's layer
    return new_conv, new_bn, next_conv


def drop_without_check(model, name):
    children = [(n, copy.deepcopy(m)) for n, m in model.named_children() if n != name]
    return nn.Sequential(OrderedDict(children))


def drop_in_place(model, name):
    layer = model.get_submodule(name)
    if layer.in_features != layer.out_features:
        raise ValueError(name)
    del model._modules[name]
    del model._modules["relu2"]
    return model


def drop_layer_keep_relus(model, name):
    layer = model.get_submodule(name)
    if layer.in_features != layer.out_features:
        raise ValueError(name)
    return drop_without_check(model, name)


def drop_the_next_layer(model, name):
    layer = model.get_submodule(name)
    if layer.in_features != layer.out_features:
        raise ValueError(name)
    names = [n for n, _ in model.named_children()]
    gone = set(names[names.index(name) + 1 : names.index(name) + 3])  # off by one
    return nn.Sequential(OrderedDict((n, m) for n, m in model.named_children() if n not in gone))


WRONG_08 = [
    ("08.ex1", neurons_forget_next, "still expects the removed neurons"),
    ("08.ex1", neurons_wrong_axis, "so neurons are rows"),
    ("08.ex1", neurons_forget_bias, "bias must shrink"),
    ("08.ex1", neurons_in_place, "original layers were modified"),
    ("08.ex1", neurons_no_size_update, "update out_features"),
    ("08.ex1", neurons_slice_next_bias, "keep it whole"),
    ("08.ex1", neurons_wrong_ones, "not the kept neurons"),
    ("08.ex2", filters_forget_running_stats, "running statistics"),
    ("08.ex2", filters_forget_bn, "scale and shift must shrink"),
    ("08.ex2", filters_forget_next, "slice its weight's dim 1"),
    ("08.ex2", filters_bn_first_channels, "same in the conv, in every BatchNorm"),
    ("08.ex2", filters_in_place, "original modules were modified"),
    ("08.ex2", filters_next_in_place, "original modules were modified"),
    ("08.ex3", lambda keep, h, w: keep, "one index per channel"),
    ("08.ex3", lambda keep, h, w: structural.flatten_keep(keep, h, w).float(), "integer"),
    (
        "08.ex3",
        lambda keep, h, w: (keep[None, :] + 4 * torch.arange(h * w)[:, None]).flatten(),
        "Flatten lays out channel 0",
    ),
    (
        "08.ex3",
        lambda keep, h, w: structural.flatten_keep(keep - 1, h, w).abs(),
        "not the features",
    ),
    ("08.ex4", drop_without_check, "must raise ValueError"),
    ("08.ex4", drop_in_place, "original model lost a layer"),
    ("08.ex4", drop_layer_keep_relus, "activation too"),
    ("08.ex4", drop_the_next_layer, "output has shape"),
    *[("08.ex5", fn, words) for fn, words in WRONG_HEADS],  # in test_exercise_heads.py
]


@pytest.mark.parametrize(
    "key, wrong, words", WRONG_07 + WRONG_08, ids=lambda v: getattr(v, "__name__", None)
)
def test_wrong_implementation_gets_its_message(key, wrong, words):
    feedback = ALL[key].check(wrong)
    assert feedback.status == "incorrect", feedback
    assert words in feedback.message, feedback.message


@pytest.mark.parametrize("notebook", ["07", "08"])
def test_at_least_six_curated_mistakes_per_exercise_notebook(notebook):
    cases = [c for c in WRONG_07 + WRONG_08 if c[0].startswith(notebook)]
    assert len(cases) >= 6
    assert {c[0] for c in cases} == {k for k in ALL if k.startswith(notebook)}


def test_use_falls_back_to_the_reference_with_a_short_notice(capsys):
    exercise = ALL["07.ex1"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a notice, not a warning (issue #25)
        fallback = exercise.use(naive_list)
    printed = capsys.readouterr()
    assert printed.err == ""
    assert "07.ex1 does not pass yet (" in printed.out
    assert "uses the reference solution" in printed.out
    assert ".)." not in printed.out and "..)" not in printed.out
    assert fallback.learners_function is naive_list and exercise.in_use(fallback) == "the reference"
    w = torch.tensor([[0.5, -0.1], [0.2, -0.9]])
    assert torch.equal(fallback(w, 0.3), exercise.reference(w, 0.3))
    assert exercise.use(stub).learners_function is stub
    printed = capsys.readouterr().out
    assert printed.startswith("07.ex1 is not attempted yet: the rest of the notebook uses the")
    assert printed.count("\n") == 1, "one short line"
    assert exercise.in_use(exercise.use(exercise.reference)) == "your"
    assert capsys.readouterr().out == "", "a passing function is used quietly"


def test_the_notice_is_a_styled_line_in_a_notebook():
    from pruning_lessons.teaching.exercises.core import Notice

    notice = Notice("07.ex1", Feedback("07.ex1", "incorrect", "3 weights are pruned."))
    page = notice._repr_html_()
    assert page.startswith('<div class="pl-notice"') and "#a50e0e" in page
    assert "(3 weights are pruned): the rest" in page
    assert "ipykernel" not in page and "Warning" not in page


@pytest.mark.parametrize("key", sorted(ALL))
def test_a_check_after_use_still_judges_the_learners_code(key, capsys):
    """Issue #14: `fn = ex.use(fn)` then `ex.check(fn)` must not turn a stub into "Correct"."""
    exercise = ALL[key]
    fn = exercise.use(stub)
    assert exercise.check(fn).status == "not attempted"
    again = exercise.use(fn)  # running the use cell twice keeps the learner's function
    assert again.learners_function is stub
    assert capsys.readouterr().out.count("uses the reference solution") == 2


def test_a_crash_names_the_input_that_caused_it():
    def kth(w, amount):
        k = round(amount * w.numel())
        return w.abs() > w.abs().flatten().kthvalue(k).values

    feedback = ALL["07.ex2"].check(kth)
    assert feedback.status == "incorrect"
    assert "when called with (a float32 tensor of shape (10,), 0.0)" in feedback.message
    assert "kthvalue" in feedback.message


def test_feedback_renders_as_html_and_text_without_the_expected_answer():
    feedback = ALL["07.ex2"].check(lambda w, a: weight.amount_mask(w, a).float())
    assert isinstance(feedback, Feedback) and not feedback
    assert "Incorrect" in str(feedback) and "Incorrect" in feedback._repr_html_()
    assert "tensor(" not in feedback.message


def test_hints_and_solution():
    exercise = ALL["08.ex2"]
    assert [exercise.hint(i).title for i in (1, 2, 3)] == [
        f"Hint {i}/3 for 08.ex2" for i in (1, 2, 3)
    ]
    assert "running_mean" in str(exercise.solution())
    assert "<pre>" in exercise.solution()._repr_html_()
    beyond = exercise.hint(4)  # a friendly note, not a traceback
    assert "ex2.hint(3)" in str(beyond) and "ex2.solution()" in str(beyond)
    assert "ex2.hint(1)" in str(exercise.hint(0))
    with pytest.raises(TypeError, match="level"):
        exercise.hint("1")


def test_check_accepts_only_functions():
    assert ALL["07.ex1"].check(42).status == "incorrect"
