import socket
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

import pruning_lessons as pl
from pruning_lessons import load_digits


def _sklearn_digits():
    from sklearn.datasets import load_digits as sklearn_load_digits

    bunch = sklearn_load_digits()
    return bunch.images.astype(np.float32) / 16.0, bunch.target


def test_sizes_types_and_range(digits):
    assert [len(digits.train), len(digits.val), len(digits.test)] == [1077, 360, 360]
    x, y = digits.train.tensors
    assert x.shape[1:] == (1, 8, 8) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert set(y.tolist()) == set(range(10))


def test_splits_partition_the_dataset(digits):
    """Every (image, label) of the dataset lands in exactly one split, as a multiset."""
    images, labels = _sklearn_digits()
    full = Counter((img.tobytes(), int(t)) for img, t in zip(images, labels, strict=True))
    seen: Counter = Counter()
    for split in (digits.train, digits.val, digits.test):
        x, y = split.tensors
        seen.update(
            (img.numpy().reshape(8, 8).tobytes(), int(t)) for img, t in zip(x, y, strict=True)
        )
    assert seen == full


def test_stratified(digits):
    _, labels = _sklearn_digits()
    share = Counter(labels.tolist())
    for split in (digits.train, digits.val, digits.test):
        counts = Counter(split.tensors[1].tolist())
        for label, n in share.items():
            expected = n * len(split) / len(labels)
            assert abs(counts[label] - expected) <= 1.0, (label, counts[label], expected)


def test_same_seed_same_split_other_seed_other_split():
    a, b, c = load_digits(seed=3), load_digits(seed=3), load_digits(seed=4)
    assert torch.equal(a.test.tensors[0], b.test.tensors[0])
    assert not torch.equal(a.test.tensors[0], c.test.tensors[0])


def test_custom_fractions():
    d = load_digits(val_fraction=0.1, test_fraction=0.3)
    assert len(d.test) == 540 and len(d.val) == 180 and len(d.train) == 1077


def test_device(device):
    d = load_digits(device=device)
    assert d.train.tensors[0].device.type == device.type
    assert d.test.tensors[1].device.type == device.type


def test_loads_with_network_disabled(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("load_digits tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    assert len(load_digits(seed=7).train) > 0


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"seed": True}, TypeError, "seed"),
        ({"val_fraction": 0.0}, ValueError, "val_fraction"),
        ({"test_fraction": 1.2}, ValueError, "test_fraction"),
        ({"val_fraction": "0.2"}, TypeError, "val_fraction"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, ValueError, "below 1"),
    ],
)
def test_bad_input(kwargs, error, words):
    with pytest.raises(error, match=words):
        load_digits(**kwargs)


def test_saved_result_finds_a_benchmark_file_from_the_notebooks_folder(monkeypatch):
    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root / "notebooks")
    assert pl.saved_result("structured.json") == root / "benchmarks" / "results" / "structured.json"
    with pytest.raises(FileNotFoundError, match="no-such-study.json"):
        pl.saved_result("no-such-study.json")
