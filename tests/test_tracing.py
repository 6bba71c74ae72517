"""The dispatch recorder and torch.export give the same unit groups on every zoo model.

Structured pruning records one forward pass with a dispatch mode placed before autograd (fast)
and keeps ``torch.export`` as the fallback (see ``pruning_lessons/structured/tracing.py``).
These tests pin that the two agree, that the fast path is the one used, and that what only
export can judge (control flow on the input's values) still goes to export.
"""

from __future__ import annotations

import re
import warnings

import pytest
import torch
from torch import nn
from zoo_models import ZOO, build

import pruning_lessons as pl
from pruning_lessons.structured import coupling, nodes, tracing

pytest.importorskip("transformers")


def _groups(model: nn.Module, example: torch.Tensor, method: str, monkeypatch) -> list[tuple]:
    """Every group as plain data; a reason's ``(file:line)`` is dropped (see the next test)."""
    monkeypatch.setattr(coupling, "trace", lambda m, x: tracing.trace(m, x, method))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        groups = pl.unit_groups(model, example)
    reasons = sorted(re.sub(r" \([^()]*:\d+\)", "", str(w.message)) for w in caught)
    return reasons + [
        (
            g.name,
            g.size,
            g.pinned and re.sub(r" \([^()]*:\d+\)", "", g.pinned),
            g.grouped,
            sorted((m.name, m.param, m.dim, m.role, tuple(m.units.tolist())) for m in g.members),
        )
        for g in groups
    ]


@pytest.mark.parametrize("name", list(ZOO))
def test_recorder_and_export_find_the_same_groups(name, monkeypatch):
    model, example = build(name)
    recorded = _groups(model, example, "dispatch", monkeypatch)
    assert recorded == _groups(model, example, "export", monkeypatch)
    assert any(isinstance(g, tuple) and g[2] is None for g in recorded)  # something to prune


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "vit", "llama_gqa", "lstm"])
def test_the_recorder_is_used_without_falling_back(name, monkeypatch):
    def no_export(*_):
        raise AssertionError("fell back to torch.export")

    monkeypatch.setattr(tracing, "_exported", no_export)
    model, example = build(name)
    recorded = tracing.trace(model, example)
    ops = {nodes.op_name(n) for n in recorded.graph.nodes if n.op == "call_function"}
    assert ops & {"conv2d", "linear", "lstm"}
    assert set(recorded.parameters.values()) <= {n for n, _ in model.named_parameters()} | {
        n for n, _ in model.named_buffers()
    }


def test_a_reason_names_the_models_own_source_line():
    """Export's line was torch's own ``normalization.py``; the recorder names the model's."""
    model, example = build("vit")
    groups = pl.unit_groups(model, example)
    reasons = [g.pinned for g in groups if g.pinned and "normalisation" in g.pinned]
    assert reasons and all(re.search(r"modeling_vit\.py:\d+", r) for r in reasons)


class _ValueBranch(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(4, 6), nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.fc1(x)
        return self.fc2(hidden if hidden.sum() > 0 else -hidden)


def test_control_flow_on_values_goes_to_export(monkeypatch):
    calls = []
    exported = tracing._exported
    monkeypatch.setattr(tracing, "_exported", lambda m, x: calls.append(m) or exported(m, x))
    with pytest.raises(TypeError, match="cannot record the forward pass of _ValueBranch"):
        tracing.trace(_ValueBranch(), torch.ones(1, 4))
    assert len(calls) == 1


def test_an_unknown_tracer_is_refused():
    with pytest.raises(ValueError, match=r"method must be one of \('dispatch', 'export'\)"):
        tracing.trace(pl.mlp(), torch.zeros(1, 1, 8, 8), method="fx")


def test_a_model_that_reuses_a_module_records_each_call():
    relu = nn.ReLU()
    model = nn.Sequential(nn.Linear(4, 6), relu, nn.Linear(6, 6), relu, nn.Linear(6, 2))
    recorded = tracing.trace(model, torch.ones(1, 4))
    paths = [tracing.module_path(n) for n in recorded.graph.nodes if n.op == "call_function"]
    assert paths == ["0", "1", "2", "1", "4"]  # one module, two calls, one path
