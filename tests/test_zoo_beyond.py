"""Architectures beyond the zoo (issue 22): each prunes exactly or is refused by name.

The same judgement for every model, no per-model case in the library: ``prune_units`` at
30 % with its self-check on must either return a model that computes the original with the
removed units zeroed (within 1e-5 of the output's scale), smaller than the original, that
leaves the original bit-identical and survives ``save_pruned_structure`` /
``load_pruned_structure``, or raise a ``ValueError`` that names a module. Groups the self-check
kept whole (named in its warning) count as kept. Nothing else may escape.
"""

from __future__ import annotations

import copy
import re
import warnings

import pytest
import torch
from zoo_models import BEYOND, ZOO, build, output, zeroed_copy

import pruning_lessons as pl

pytest.importorskip("transformers")

#: Refused by name, with what the refusal must name (sizes fixed in the forward pass).
REFUSED = {"mamba": r"x_proj.*split_with_sizes"}


def test_the_zoo_and_beyond_hold_at_least_35_architectures():
    assert len(ZOO) + len(BEYOND) >= 35 and not set(ZOO) & set(BEYOND)


@pytest.mark.parametrize("name", list(BEYOND))
def test_prunes_exactly_or_is_refused_by_name(name, tmp_path):
    model, example = build(name)
    before = copy.deepcopy(model.state_dict())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if name in REFUSED:
            with pytest.raises(ValueError, match=REFUSED[name]):
                pl.prune_units(model, 0.3, example_input=example)
            return
        groups = pl.unit_groups(model, example)
        removed = pl.select_units(model, 0.3, example_input=example)
        pruned = pl.prune_units(model, 0.3, example_input=example)
    messages = [str(w.message) for w in caught if issubclass(w.category, pl.StructureWarning)]
    kept = {n for m in messages if "self-check" in m for n in re.findall(r"'([^']+)' \(layers", m)}
    removed = {n: u for n, u in removed.items() if n not in kept and u}
    assert removed and pl.count_parameters(pruned) < pl.count_parameters(model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with torch.no_grad():
        want = output(zeroed_copy(model, groups, removed)(example))
        got = output(pruned.eval()(example))
    assert got.shape == want.shape
    assert (got - want).abs().max() <= 1e-5 * want.abs().max().clamp_min(1e-12)
    path = tmp_path / "pruned.pt"
    pl.save_pruned_structure(pruned, path)
    loaded = pl.load_pruned_structure(build(name, seed=1)[0], path).eval()
    with torch.no_grad():
        assert torch.equal(output(loaded(example)), got)
