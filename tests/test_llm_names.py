"""Per-token scores and the name bytes that perplexity averages away (llm.evaluate, llm.names)."""

import math

import pytest
import torch

from pruning_lessons import llm
from pruning_lessons.llm.evaluate import token_scores
from pruning_lessons.llm.names import attribute_spans, name_scores


def as_bytes(text: str) -> torch.Tensor:
    return torch.tensor(list(text.encode()), dtype=torch.long)


@pytest.fixture(scope="module")
def model():
    return llm.tiny_llama(llm.TinyLlamaConfig(dim=32, n_layers=2, hidden_dim=64, head_dim=8))


def test_token_scores_are_perplexitys_terms_and_the_models_argmax(model):
    data = torch.randint(0, 256, (300,), generator=torch.Generator().manual_seed(0))
    losses, hits = token_scores(model, data, seq_len=64, batch_size=2)
    assert losses.shape == hits.shape == (299,)
    ppl = llm.perplexity(model, data, seq_len=64, batch_size=2)
    assert math.isclose(math.exp(losses.double().mean().item()), ppl, rel_tol=1e-9)
    # the second window (bytes 64..128) predicts bytes 65..128 from its own bytes only
    with torch.no_grad():
        logits = model(data[None, 64:128])[0]
    assert torch.equal(hits[64:128], logits.argmax(-1) == data[65:129])
    expected = torch.nn.functional.cross_entropy(logits, data[65:129], reduction="none")
    assert torch.allclose(losses[64:128], expected, atol=1e-6)


def test_attribute_spans_find_names_with_their_closing_byte_and_whether_they_were_seen():
    text = "x = os.path\nos.path.join(a)\n"
    data = as_bytes(text)
    spans = attribute_spans(data, seq_len=64)
    found = [(text[s.start : s.end], s.in_context) for s in spans]
    assert found == [("path\n", False), ("path.", True), ("join(", False)]


def test_a_name_crossing_into_the_next_window_is_left_out():
    text = "a" * 60 + ".name(" + "b" * 10
    spans = attribute_spans(as_bytes(text), seq_len=64)  # bytes 61..66 cross byte 65
    assert spans == []
    assert len(attribute_spans(as_bytes(text), seq_len=128)) == 1


def test_name_scores_groups_cover_the_right_bytes(model):
    text = ("self.value = self.value + other.count\n" * 4)[:150]
    data = as_bytes(text)
    scores = name_scores(model, data, seq_len=64)
    assert scores["all"]["bytes"] == len(data) - 1
    spans = attribute_spans(data, seq_len=64)
    for group, seen in (("memory", False), ("context", True)):
        expected = sum(s.end - 1 - s.start for s in spans if s.in_context is seen)
        assert scores[group]["bytes"] == expected > 0
        assert scores["hits"][group].dtype == torch.bool
        assert 0.0 <= scores[group]["top1"] <= 1.0 and scores[group]["loss"] > 0


@pytest.mark.parametrize(
    "data, error",
    [
        (torch.tensor([1.0, 2.0]), TypeError),
        (torch.tensor([[1, 2]]), ValueError),
        (torch.tensor([300, 46, 97]), ValueError),
        (torch.tensor([], dtype=torch.long), ValueError),
    ],
)
def test_bad_data_is_refused_by_name(data, error):
    with pytest.raises(error, match="data"):
        attribute_spans(data)
