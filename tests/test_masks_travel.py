"""Masks follow the model: deepcopy, pickle, torch.func, tied weights, loads, compile, ONNX."""

from __future__ import annotations

import copy
import importlib.util
import io
import pickle

import pytest
import torch
from torch import nn

import pruning_lessons as pl
from pruning_lessons import get_masks, magnitude_prune, sparsity


def _pruned_linear() -> tuple[nn.Sequential, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8))
    keep = magnitude_prune(model, 0.5)["0.weight"]
    return model, keep


@pytest.mark.parametrize("how", ["deepcopy", "pickle", "torch.save"])
def test_a_copy_is_held_at_zero_by_a_step_before_any_forward(how):
    model, keep = _pruned_linear()
    if how == "deepcopy":
        twin = copy.deepcopy(model)
    elif how == "pickle":
        twin = pickle.loads(pickle.dumps(model))
    else:
        buffer = io.BytesIO()
        torch.save(model, buffer)
        buffer.seek(0)
        twin = torch.load(buffer, weights_only=False)
    optimizer = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    twin[0].weight.grad = torch.ones(8, 8)
    optimizer.step()  # no forward pass has run on the copy
    assert int((twin[0].weight == 0).sum()) == int((~keep).sum()) == 32
    state = twin.state_dict()  # saved at this very moment
    assert not state["0.weight"][~keep].any()
    assert not optimizer.state[twin[0].weight]["momentum_buffer"][~keep].any()
    # and the original is still held too
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model[0].weight.grad = torch.ones(8, 8)
    optimizer.step()
    assert torch.equal(model[0].weight != 0, keep)


def test_functional_call_never_writes_to_the_callers_tensors():
    model, _ = _pruned_linear()
    torch.manual_seed(1)
    sentinel = nn.Sequential(nn.Linear(8, 8))
    before = {k: v.clone() for k, v in sentinel.state_dict().items()}
    x = torch.randn(4, 8)
    params = dict(sentinel.named_parameters())
    out = torch.func.functional_call(model, params, (x,))
    assert torch.equal(out, sentinel(x))  # it computed with the caller's weights
    grads = torch.func.grad(lambda p: torch.func.functional_call(model, p, (x,)).sum())(params)
    assert set(grads) == set(params)
    after = sentinel.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # bit-identical


def test_the_models_own_weights_still_come_back_to_zero_after_functional_call():
    model, keep = _pruned_linear()
    torch.func.functional_call(
        model, dict(nn.Linear(8, 8).named_parameters(prefix="0")), (torch.randn(2, 8),)
    )
    with torch.no_grad():
        model[0].weight.add_(1.0)
    model(torch.randn(2, 8))
    assert torch.equal(model[0].weight != 0, keep)


def test_a_parameter_assigned_to_a_masked_layer_is_masked_at_once():
    model, keep = _pruned_linear()
    model[0].weight = nn.Parameter(torch.ones(8, 8))
    assert torch.equal(model[0].weight != 0, keep)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model[0].weight.grad = torch.ones(8, 8)
    optimizer.step()
    assert torch.equal(model[0].weight != 0, keep)


class TinyLM(nn.Module):
    """Embedding -> hidden Linear -> output Linear whose weight *is* the embedding's."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(40, 40)
        self.hidden = nn.Linear(40, 40)
        self.out = nn.Linear(40, 40, bias=False)
        self.out.weight = self.emb.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(self.emb(tokens))))


def test_a_tied_embedding_and_output_weight_is_pruned_once_and_masked_everywhere():
    torch.manual_seed(0)
    lm = TinyLM()
    masks = magnitude_prune(lm, 0.5)
    assert set(masks) == {"emb.weight", "hidden.weight"}  # the first name named_parameters gives
    assert int((lm.out.weight == 0).sum()) == 800 and lm.out.weight is lm.emb.weight
    assert lm.out.weight_mask is lm.emb.weight_mask  # one mask, held by both layers
    assert sparsity(lm) == pytest.approx(0.5)  # 1,600 + 1,600 weights, the tied one once
    optimizer = torch.optim.Adam(lm.parameters(), lr=0.1)
    for _ in range(2):
        optimizer.zero_grad()
        lm(torch.randint(0, 40, (3, 5))).sum().backward()
        optimizer.step()
    assert torch.equal(lm.out.weight != 0, masks["emb.weight"])


@pytest.mark.parametrize("name", ["out.weight", "emb.weight"])
def test_a_tied_weight_is_selectable_by_any_of_its_names(name):
    torch.manual_seed(0)
    lm = TinyLM()
    masks = magnitude_prune(lm, 0.25, parameters=[name])
    assert set(masks) == {"emb.weight"}
    assert int((lm.out.weight == 0).sum()) == 400 and not (lm.hidden.weight == 0).any()
    assert sparsity(lm, [name]) == pytest.approx(0.25)


def test_a_pruned_state_dict_loads_into_a_fresh_model_with_plain_load_state_dict():
    torch.manual_seed(0)
    model = pl.mlp()
    masks = magnitude_prune(model, 0.9, scope="global")
    assert not any(k.endswith("_mask") for k in model.state_dict())
    fresh = pl.mlp()
    fresh.load_state_dict(model.state_dict())  # strict: the keys are the unpruned model's
    for name, keep in masks.items():
        assert torch.equal(fresh.get_parameter(name) != 0, keep)  # the zeros load
    restored = pl.load_pruned_state_dict(pl.mlp(), pl.pruned_state_dict(model))
    assert all(torch.equal(get_masks(restored)[k], masks[k]) for k in masks)  # and the masks


def test_a_masked_cnn_compiles_without_graph_breaks():
    model = pl.cnn(channels=(4, 8))
    magnitude_prune(model, 0.5)
    torch._dynamo.reset()
    explanation = torch._dynamo.explain(model)(torch.rand(2, 1, 8, 8))
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1


def test_onnx_export_of_a_masked_model():
    for module in ("onnx", "onnxscript"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"ONNX export needs the {module} package, which is not installed")
    import onnx
    from onnx.reference import ReferenceEvaluator

    model = pl.cnn(channels=(4, 8)).eval()
    masks = magnitude_prune(model, 0.5)
    x = torch.rand(2, 1, 8, 8)
    program = torch.onnx.export(model, (x,), dynamo=True)  # masked, not baked
    buffer = io.BytesIO()
    program.save(buffer)
    graph = onnx.load_from_string(buffer.getvalue())
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in graph.graph.initializer}
    for name, keep in masks.items():
        assert not weights[name][~keep.numpy()].any()  # the zeros are in the exported weights
    session = ReferenceEvaluator(graph)
    (out,) = session.run(None, {graph.graph.input[0].name: x.numpy()})
    with torch.no_grad():
        assert torch.allclose(torch.from_numpy(out), model(x), atol=1e-5)
