"""Lesson 10's explorer looks its settings up in a saved table (issue #25: a slider under 0.5 s).

The table (``benchmarks/results/llm_explorer.json``, written by
``benchmarks/bench_llm_explorer.py``) must hold every setting the explorer offers, measured
by the same code on the lesson's model and test slice: a few rows are measured again here.
"""

from __future__ import annotations

import json

import pytest
import torch

from pruning_lessons import llm
from pruning_lessons.core.data import saved_result
from pruning_lessons.teaching.explorers import llm as explorer

TEST_TOKENS = 8192  # lesson 10's slice


@pytest.fixture(scope="module")
def lesson():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as the lesson and the benchmark
    try:
        model = llm.load_tiny_llama()
        corpus = llm.load_corpus(seed=0)
        test = corpus.test[:TEST_TOKENS]
        yield model, test, corpus.train, llm.perplexity(model, test)
    finally:
        torch.set_num_threads(before)


def _saved() -> dict:
    return json.loads(saved_result(explorer.TABLE).read_text(encoding="utf-8"))


def test_the_table_holds_every_setting_the_explorer_offers():
    offered = {
        explorer.setting_key(method, sparsity, size)
        for method in explorer.METHODS
        for sparsity in explorer.SPARSITIES
        for size in explorer.CALIBRATION_SIZES
    }
    assert set(_saved()["results"]) == offered
    assert explorer.setting_key(*explorer.DEFAULT) in offered


@pytest.mark.parametrize("setting", [("magnitude", 0.5, 1), ("wanda", "2:4", 1)])
def test_the_table_is_what_the_code_measures_on_the_lessons_model(lesson, setting):
    model, test, train, dense = lesson
    table = explorer.saved_table(dense, int(test.numel()))
    assert table, "the saved table does not fit the lesson's model: rerun its benchmark"
    live = explorer.pruned_perplexity(model, test, train, *setting, dense=dense)
    saved = table[explorer.setting_key(*setting)]
    assert saved.pruned == pytest.approx(live.pruned, rel=1e-5)
    assert str(saved).split(": perplexity")[0] == str(live).split(": perplexity")[0]


def test_a_table_for_another_model_is_not_used(lesson):
    _, test, _, dense = lesson
    assert explorer.saved_table(dense * 1.01, int(test.numel())) == {}
    assert explorer.saved_table(dense, int(test.numel()) - 1) == {}


def test_the_explorer_opens_on_its_default_and_moves_without_pruning(lesson, monkeypatch):
    model, test, train, dense = lesson

    def no_pruning(*args, **kwargs):
        raise AssertionError("the explorer pruned instead of looking the setting up")

    monkeypatch.setattr(explorer, "pruned_perplexity", no_pruning)
    box = explorer.llm_explorer(model, test, train, dense=dense)
    sparsity, method, size, label = box.children
    assert (method.value, sparsity.value, size.value) == explorer.DEFAULT
    assert "wanda at 50% (16 sequences)" in label.value
    for value in explorer.SPARSITIES:
        sparsity.value = value
        assert "perplexity" in label.value
    method.value = "sparsegpt"
    size.value = 64
    assert "sparsegpt at 2:4 (64 sequences)" in label.value
