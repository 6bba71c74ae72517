"""Weight pruning: exact selection, cross-checks with torch.nn.utils.prune, masks that hold."""

from __future__ import annotations

import copy
import io

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils import prune

import pruning_lessons as pl
from pruning_lessons import (
    bake_masks,
    get_masks,
    global_magnitude_masks,
    load_pruned_state_dict,
    load_sparse,
    magnitude_mask,
    magnitude_prune,
    random_prune,
    save_sparse,
    sparsity,
)

shapes = st.lists(st.integers(1, 12), min_size=1, max_size=3)
amounts = st.floats(0.0, 1.0, allow_nan=False)


def _distinct(shape: list[int], seed: int) -> torch.Tensor:
    """Values with distinct magnitudes (no ties), random order and signs."""
    n = int(torch.tensor(shape).prod())
    g = torch.Generator().manual_seed(seed)
    magnitudes = torch.randperm(n, generator=g).float() + 1.0
    signs = torch.randint(0, 2, (n,), generator=g) * 2 - 1
    return (magnitudes * signs).reshape(shape)


def _torch_mask(tensor: torch.Tensor, amount: float) -> torch.Tensor:
    method = prune.L1Unstructured(amount)
    return method.compute_mask(tensor, torch.ones_like(tensor)).bool()


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --- cross-checks with torch.nn.utils.prune ------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(shape=shapes, amount=amounts, seed=st.integers(0, 1000))
def test_same_mask_as_torch_without_ties(shape, amount, seed):
    tensor = _distinct(shape, seed)
    assert torch.equal(magnitude_mask(tensor, amount), _torch_mask(tensor, amount))


@settings(max_examples=150, deadline=None)
@given(shape=shapes, amount=amounts, seed=st.integers(0, 1000))
def test_same_count_as_torch_with_ties(shape, amount, seed):
    g = torch.Generator().manual_seed(seed)
    tensor = torch.randint(-2, 3, shape, generator=g).float()  # many ties, many zeros
    ours, theirs = magnitude_mask(tensor, amount), _torch_mask(tensor, amount)
    assert int((~ours).sum()) == int((~theirs).sum()) == round(amount * tensor.numel())
    # whatever torch picks among ties, the pruned magnitudes are the same multiset
    assert torch.equal(tensor[~ours].abs().sort().values, tensor[~theirs].abs().sort().values)


@settings(max_examples=60, deadline=None)
@given(
    shapes_list=st.lists(shapes, min_size=1, max_size=4),
    amount=amounts,
    seed=st.integers(0, 1000),
)
def test_global_same_masks_as_torch_without_ties(shapes_list, amount, seed):
    sizes = [int(torch.tensor(s).prod()) for s in shapes_list]
    flat = _distinct([sum(sizes)], seed)
    tensors = [chunk.reshape(s) for chunk, s in zip(flat.split(sizes), shapes_list, strict=True)]
    modules = [nn.Module() for _ in tensors]
    for module, tensor in zip(modules, tensors, strict=True):
        module.weight = nn.Parameter(tensor.clone())
    prune.global_unstructured(
        [(m, "weight") for m in modules], pruning_method=prune.L1Unstructured, amount=amount
    )
    ours = global_magnitude_masks(tensors, amount)
    for mine, module in zip(ours, modules, strict=True):
        assert torch.equal(mine, module.weight_mask.bool())


# --- documented tie rule and exact counts ----------------------------------------------------


def test_ties_lower_index_first():
    assert magnitude_mask(torch.ones(2, 3), 0.5).tolist() == [[False, False, False], [True] * 3]
    mostly_zero = torch.tensor([0.0, 5.0, 0.0, -0.0, 2.0, 0.0])
    assert magnitude_mask(mostly_zero, 0.5).tolist() == [False, True, False, False, True, True]
    # python rounding, half to even, like torch: 0.5 x 5 prunes 2, 0.5 x 7 prunes 4
    assert int((~magnitude_mask(torch.ones(5), 0.5)).sum()) == 2
    assert int((~magnitude_mask(torch.ones(7), 0.5)).sum()) == 4


def test_global_ties_follow_concatenation_order():
    a, b = torch.ones(3), torch.ones(2)
    masks = global_magnitude_masks([a, b], 0.8)  # 4 of 5 go: all of a, then the first of b
    assert [m.tolist() for m in masks] == [[False, False, False], [False, True]]


def test_threshold_prunes_at_or_below():
    t = torch.tensor([-0.5, 0.2, 0.1, -0.1, 0.0, 0.3])
    assert magnitude_mask(t, threshold=0.2).tolist() == [True, False, False, False, False, True]
    assert magnitude_mask(t, threshold=0).tolist() == [True, True, True, True, False, True]


@settings(max_examples=80, deadline=None)
@given(shape=shapes, amount=amounts, seed=st.integers(0, 100))
def test_mask_properties(shape, amount, seed):
    tensor = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    mask = magnitude_mask(tensor, amount)
    assert mask.dtype == torch.bool and mask.shape == tensor.shape
    assert int((~mask).sum()) == round(amount * tensor.numel())
    assert torch.equal(magnitude_mask(tensor * mask, amount), mask)  # idempotent


def test_masks_on_device(device):
    tensor = torch.randn(40, 30, device=device)
    mask = magnitude_mask(tensor, 0.7)
    assert mask.device.type == device.type
    assert int((~mask).sum()) == 840
    masks = global_magnitude_masks([tensor, tensor[:5]], 0.3)
    assert [m.device.type for m in masks] == [device.type] * 2


# --- model-level pruning ----------------------------------------------------------------------


def test_layer_scope_prunes_every_layer_exactly(device):
    model = pl.mlp().to(device)
    masks = magnitude_prune(model, 0.6)
    assert list(masks) == ["fc1.weight", "fc2.weight", "fc3.weight"]
    for name, keep in masks.items():
        n = keep.numel()
        assert int((~keep).sum()) == round(0.6 * n), name
        weight = model.get_parameter(name)
        assert not weight[~keep].any(), name  # the pruned entries, and only they, are zero
        assert weight[keep].all(), name
    assert model.fc1.bias.count_nonzero() == model.fc1.bias.numel()  # biases untouched


def test_global_scope_counts_over_all_layers():
    model = pl.cnn()
    masks = magnitude_prune(model, 0.9, scope="global")
    pruned = sum(int((~m).sum()) for m in masks.values())
    total = sum(m.numel() for m in masks.values())
    assert pruned == round(0.9 * total)
    assert "bn1.weight" not in masks  # normalisation layers are never pruned
    assert sparsity(model) == pytest.approx(pruned / total)


def test_pruned_output_equals_dense_model_with_masked_weights():
    torch.manual_seed(0)
    dense = pl.mlp()
    pruned = copy.deepcopy(dense)
    masks = magnitude_prune(pruned, 0.75, scope="global")
    reference = copy.deepcopy(dense)
    with torch.no_grad():
        for name, keep in masks.items():
            reference.get_parameter(name).mul_(keep)
    x = torch.rand(16, 1, 8, 8)
    assert torch.equal(pruned(x), reference(x))


def test_raising_the_target_adds_zeros_and_lowering_it_is_an_error():
    model = pl.mlp()
    first = {k: v.clone() for k, v in magnitude_prune(model, 0.5).items()}
    second = magnitude_prune(model, 0.8)
    for name in first:
        assert not (second[name] & ~first[name]).any()  # never un-prunes
        assert int((~second[name]).sum()) == round(0.8 * second[name].numel())
    before = _state(model)
    with pytest.raises(ValueError, match="already 80.0% pruned"):
        magnitude_prune(model, 0.5)
    assert _same_state(before, _state(model))
    assert torch.equal(magnitude_prune(model, 0.8)["fc1.weight"], second["fc1.weight"])


def test_han_std_rule_and_options():
    model = pl.mlp()
    weight = model.fc2.weight.detach().clone()
    masks = magnitude_prune(model, std_factor=1.0, parameters=["fc2.weight"])
    assert list(masks) == ["fc2.weight"]
    assert torch.equal(masks["fc2.weight"], weight.abs() > weight.std())
    spared = magnitude_prune(pl.mlp(), 0.5, spare_classifier=True)
    assert list(spared) == ["fc1.weight", "fc2.weight"]


def test_random_prune_is_seeded_and_exact():
    a = random_prune(pl.mlp(), 0.7, seed=3)
    b = random_prune(pl.mlp(), 0.7, seed=3)
    c = random_prune(pl.mlp(), 0.7, seed=4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["fc1.weight"], c["fc1.weight"])
    g = random_prune(pl.mlp(), 0.7, seed=3, scope="global")
    assert sum(int((~m).sum()) for m in g.values()) == round(0.7 * 50_200)


# --- masks that hold ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
        lambda p: torch.optim.Adam(p, lr=1e-2),
        lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1),
    ],
    ids=["sgd-momentum", "sgd-nesterov-wd", "adam", "adamw-wd"],
)
@pytest.mark.parametrize("created", ["before", "after"])
def test_pruned_weights_stay_zero_through_a_plain_training_loop(make_optimizer, created, device):
    torch.manual_seed(0)
    model = pl.cnn(channels=(8, 8)).to(device)
    x = torch.rand(32, 1, 8, 8, device=device)
    y = torch.randint(0, 10, (32,), device=device)
    loss_fn = nn.CrossEntropyLoss()
    if created == "before":
        optimizer = make_optimizer(model.parameters())
        for _ in range(3):  # build up momentum before pruning
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
    masks = magnitude_prune(model, 0.8, scope="global")
    if created == "after":
        optimizer = make_optimizer(model.parameters())
    for _ in range(10):
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
        for name, keep in masks.items():
            assert not model.get_parameter(name)[~keep].any(), name


def test_hand_edits_are_undone_before_the_next_forward():
    model = pl.mlp()
    keep = magnitude_prune(model, 0.5)["fc1.weight"]
    with torch.no_grad():
        model.fc1.weight.fill_(1.0)
    model(torch.rand(1, 64))
    assert torch.equal(model.fc1.weight != 0, keep)


def test_a_replaced_parameter_is_masked_before_the_next_forward():
    model = pl.mlp()
    keep = magnitude_prune(model, 0.5)["fc1.weight"]
    model.fc1.weight = nn.Parameter(torch.ones_like(model.fc1.weight))
    model(torch.rand(1, 64))
    assert torch.equal(model.fc1.weight != 0, keep)


def test_a_non_strict_load_of_dense_weights_is_masked_at_once():
    model = pl.mlp()
    masks = magnitude_prune(model, 0.5)
    model.load_state_dict(pl.mlp().state_dict(), strict=False)  # no masks in it: kept ours
    assert pl.sparsity(model) == pytest.approx(0.5, abs=1e-3)  # before any forward
    assert all(not model.get_parameter(k)[~m].any() for k, m in masks.items())


def test_the_mask_hook_repairs_without_moving_autograds_version_counter():
    # so the forwards after a repair share one version: their graphs stay valid together
    model = pl.mlp()
    keep = magnitude_prune(model, 0.5)["fc2.weight"]
    with torch.no_grad():
        model.fc2.weight.add_(1.0)  # revives every pruned weight
    version = model.fc2.weight._version
    first = model(torch.rand(4, 64)).sum()
    assert model.fc2.weight._version == version and torch.equal(model.fc2.weight != 0, keep)
    second = model(torch.rand(4, 64)).sum()
    (first + second).backward()
    assert model.fc2.weight.grad is not None  # backward ran: no version error


def test_edits_through_data_are_undone_by_the_next_optimizer_step():
    # .data bypasses autograd's version counter, so the forward hook cannot see such an edit
    model = pl.mlp()
    keep = magnitude_prune(model, 0.5)["fc1.weight"]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.fc1.weight.data.fill_(1.0)
    model(torch.rand(4, 64)).sum().backward()
    optimizer.step()
    assert torch.equal(model.fc1.weight != 0, keep)


def test_deepcopy_and_fresh_state_dict_load_keep_masks():
    model = pl.mlp()
    masks = magnitude_prune(model, 0.9, scope="global")
    clone = copy.deepcopy(model)
    assert all(torch.equal(get_masks(clone)[k], masks[k]) for k in masks)
    optimizer = torch.optim.SGD(clone.parameters(), lr=0.5, momentum=0.9)
    for _ in range(3):
        optimizer.zero_grad()
        clone(torch.rand(8, 64)).sum().backward()
        optimizer.step()
    assert all(not clone.get_parameter(k)[~m].any() for k, m in masks.items())

    fresh = load_pruned_state_dict(pl.mlp(), pl.pruned_state_dict(model))
    assert all(torch.equal(get_masks(fresh)[k], masks[k]) for k in masks)
    assert _same_state(fresh.state_dict(), model.state_dict())


def test_bake_leaves_plain_parameters_with_the_zeros():
    model = pl.mlp()
    magnitude_prune(model, 0.5)
    baked = bake_masks(model)
    assert get_masks(baked) == {}
    assert not any(k.endswith("_mask") for k in baked.state_dict())
    pl.mlp().load_state_dict(baked.state_dict())  # a fresh model loads it directly
    assert sparsity(baked) == pytest.approx(0.5, abs=1e-3)


def _another_architecture_state(kind: str) -> dict:
    source = pl.mlp()
    magnitude_prune(source, 0.5)
    if kind == "state_dict":
        return pl.pruned_state_dict(source)
    buffer = io.BytesIO()
    save_sparse(source, buffer)
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize("kind", ["state_dict", "sparse file"])
def test_a_file_for_another_architecture_is_refused_and_changes_nothing(kind):
    target = pl.mlp((64, 300, 100, 5))  # another classifier width
    magnitude_prune(target, 0.3)  # and masks of its own, which must survive the failure
    before = {k: v.clone() for k, v in target.state_dict().items()}
    loaded = _another_architecture_state(kind)
    load = load_pruned_state_dict if kind == "state_dict" else load_sparse
    with pytest.raises(ValueError, match=r"fc3\.weight: \(10, 100\) for the model's \(5, 100\)"):
        load(target, loaded)
    assert _same_state(target.state_dict(), before)


def test_missing_entries_and_wrong_mask_shapes_are_named():
    source = pl.mlp()
    magnitude_prune(source, 0.5)
    state = pl.pruned_state_dict(source)
    partial = {k: v for k, v in state.items() if k != "fc2.bias"}
    with pytest.raises(ValueError, match=r"missing \['fc2.bias'\]"):
        load_pruned_state_dict(pl.mlp(), partial)
    bad_mask = dict(state, **{"fc1.weight_mask": torch.ones(1, 64, dtype=torch.bool)})
    target = pl.mlp()
    with pytest.raises(ValueError, match=r"fc1\.weight_mask: \(1, 64\)"):
        load_pruned_state_dict(target, bad_mask)
    assert not get_masks(target)


def test_sparse_file_round_trip_is_bit_exact_and_small():
    model = pl.mlp()
    magnitude_prune(model, 0.9, scope="global")
    buffer = io.BytesIO()
    save_sparse(model, buffer)
    buffer.seek(0)
    loaded = load_sparse(pl.mlp(), buffer)
    assert _same_state(loaded.state_dict(), model.state_dict())
    dense = pl.file_size(bake_masks(copy.deepcopy(model)))
    assert dense >= 5 * len(buffer.getvalue())


def test_load_sparse_reads_without_pickle(tmp_path, torch_load_calls):
    model = pl.cnn(channels=(8, 8))
    magnitude_prune(model, 0.5)
    path = tmp_path / "model.pt"
    save_sparse(model, path)
    load_sparse(pl.cnn(channels=(8, 8)), path)
    assert torch_load_calls == [True]


# --- bad input: clear errors, model unchanged ------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"amount": 1.5}, ValueError, r"amount must be in \[0, 1\]"),
        ({"amount": -0.1}, ValueError, "amount must be in"),
        ({"amount": float("nan")}, ValueError, "amount must be in"),
        ({"amount": 5}, TypeError, "amount must be a float"),
        ({"amount": "0.5"}, TypeError, "amount must be a float"),
        ({"amount": 0.5, "threshold": 0.1}, ValueError, "exactly one"),
        ({}, ValueError, "exactly one"),
        ({"threshold": -0.1}, ValueError, "threshold must be >= 0"),
        ({"threshold": "small"}, TypeError, "threshold must be a number"),
        ({"std_factor": -1.0}, ValueError, "std_factor must be >= 0"),
        ({"amount": 0.5, "scope": "model"}, ValueError, "scope must be one of"),
        ({"amount": 0.5, "parameters": ["fc9.weight"]}, ValueError, "fc9.weight"),
    ],
)
def test_bad_input_is_a_clear_error_and_changes_nothing(kwargs, error, words):
    model = pl.mlp()
    magnitude_prune(model, 0.2)
    before = _state(model)
    with pytest.raises(error, match=words):
        magnitude_prune(model, **kwargs)
    assert _same_state(before, _state(model))


def test_nan_weights_name_the_parameter():
    model = pl.mlp()
    with torch.no_grad():
        model.fc2.weight[3, 4] = float("inf")
    before = _state(model)
    with pytest.raises(ValueError, match="fc2.weight"):
        magnitude_prune(model, 0.5)
    assert _same_state(before, _state(model))


def test_nothing_to_prune():
    with pytest.raises(ValueError, match="nothing to prune"):
        magnitude_prune(nn.Sequential(nn.ReLU(), nn.BatchNorm1d(4)), 0.5)
    with pytest.raises(ValueError, match="nothing to prune"):
        magnitude_prune(pl.mlp([64, 10]), 0.5, spare_classifier=True)
    with pytest.raises(ValueError, match="tensors is empty"):
        global_magnitude_masks([], 0.5)


def test_torch_pruned_module_is_refused():
    model = pl.mlp()
    prune.l1_unstructured(model.fc1, "weight", 0.5)
    with pytest.raises(ValueError, match="torch.nn.utils.prune"):
        magnitude_prune(model, 0.5)


@pytest.mark.parametrize("scope", ["layer", "global"])
def test_random_pruning_ignores_the_initial_weights_even_with_the_same_seed(scope):
    """Seeding the scores like the initialisation would prune by initial weight value."""
    pl.seed_everything(4)
    model = pl.mlp()
    initial = model.fc1.weight.detach().clone()
    keep = random_prune(model, 0.5, seed=4, scope=scope)["fc1.weight"]
    smallest = initial.flatten() < initial.flatten().median()
    share = float((~keep.flatten())[smallest].float().mean())
    assert 0.4 < share < 0.6, f"{share:.0%} of the lowest initial values were pruned"


def test_independent_generator_is_reproducible_and_unrelated_to_manual_seed():
    from pruning_lessons.core.device import independent_generator

    a = torch.rand(5, generator=independent_generator(3, "x"))
    assert torch.equal(a, torch.rand(5, generator=independent_generator(3, "x")))
    assert not torch.equal(a, torch.rand(5, generator=independent_generator(3, "y")))
    assert not torch.equal(a, torch.rand(5, generator=torch.Generator().manual_seed(3)))


class _Tied(nn.Module):
    """Two layers sharing one weight matrix (tied weights)."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(8, 8), nn.Linear(8, 8)
        self.b.weight = self.a.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.relu(self.a(x)))


def test_a_weight_shared_by_two_layers_is_pruned_and_counted_once():
    model = _Tied()
    assert list(pl.prunable_parameters(model)) == ["a.weight"]
    masks = magnitude_prune(model, 0.5)
    assert list(masks) == ["a.weight"] and int((~masks["a.weight"]).sum()) == 32
    assert pl.sparsity(model) == pytest.approx(0.5)
    model(torch.rand(2, 8)).sum().backward()
    torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9).step()
    assert not model.b.weight[~masks["a.weight"]].any()  # the same tensor, still pruned
    assert pl.prune_weights(_Tied(), 0.25, criterion="random", seed=0)


def test_global_selection_runs_its_chunk_loop_on_one_cpu_thread(monkeypatch):
    # many small parallel regions stall when another process holds a core; the streaming
    # passes therefore run at one thread and give the caller's setting back afterwards
    import pruning_lessons.weights.select as select

    seen = []
    real_chunks = select._chunks

    def spy(tensor):
        for item in real_chunks(tensor):
            seen.append(torch.get_num_threads())
            yield item

    monkeypatch.setattr(select, "_chunks", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        weights = [torch.randn(300, 300), torch.randn(70_000)]
        masks = global_magnitude_masks(weights, 0.7)
        assert torch.get_num_threads() == 2  # restored
        assert seen and set(seen) == {1}
        flat = torch.cat([w.abs().reshape(-1) for w in weights])
        expected = torch.ones_like(flat, dtype=torch.bool)
        expected[torch.sort(flat, stable=True).indices[: round(0.7 * flat.numel())]] = False
        assert torch.equal(torch.cat([m.reshape(-1) for m in masks]), expected)
        with pytest.raises(ValueError):
            select.smallest_k_masks(weights, -1)
        monkeypatch.setattr(select, "_chunks", lambda t: iter([(0, 1 / 0)]))
        with pytest.raises(ZeroDivisionError):
            global_magnitude_masks(weights, 0.5)
        assert torch.get_num_threads() == 2  # restored after an error too
    finally:
        torch.set_num_threads(before)


def test_the_fast_magnitude_keys_select_exactly_what_the_general_keys_select():
    import pruning_lessons.weights.select as select

    g = torch.Generator().manual_seed(3)
    ties = torch.randint(-3, 4, (200_000,), generator=g).float()  # many ties, +0.0 and -0.0
    ties[::7] = -0.0
    weights = [ties, torch.randn(300, 500, generator=g), torch.randn(40, dtype=torch.float64)]
    for amount in (0.1, 0.5, 0.93):
        k = round(amount * sum(w.numel() for w in weights))
        fast = select.smallest_k_masks(weights, k, score=torch.abs)
        general = select.smallest_k_masks(weights, k, score=lambda t: t.abs())
        assert all(torch.equal(a, b) for a, b in zip(fast, general, strict=True))
        assert sum(int((~m).sum()) for m in fast) == k


def test_ties_that_span_chunks_are_pruned_in_concatenation_order(monkeypatch):
    """The streaming passes read 1 MiB chunks; with small chunks the tie count carried from
    chunk to chunk (and tensor to tensor) must still give the stable-sort answer."""
    import pruning_lessons.weights.select as select

    monkeypatch.setattr(select, "CHUNK", 1 << 10)
    g = torch.Generator().manual_seed(5)
    weights = [torch.randint(0, 4, (5_000,), generator=g).float(), torch.zeros(3_000)]
    flat = torch.cat([w.abs() for w in weights])
    for amount in (0.2, 0.55, 0.9):
        k = round(amount * flat.numel())
        expected = torch.ones_like(flat, dtype=torch.bool)
        expected[torch.sort(flat, stable=True).indices[:k]] = False
        masks = select.smallest_k_masks(weights, k, score=torch.abs)
        assert torch.equal(torch.cat([m.reshape(-1) for m in masks]), expected)
