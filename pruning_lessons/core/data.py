"""Offline data: scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes).

Nothing is downloaded: the images ship inside scikit-learn. Pixels are integers 0..16 and are
scaled by 1/16 into [0, 1]. (Per-pixel z-scoring would divide by ~0 for the border pixels,
which are always blank.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn import datasets
from sklearn.model_selection import train_test_split
from torch.utils.data import TensorDataset

from .device import check_seed

IMAGE_SHAPE = (1, 8, 8)
NUM_CLASSES = 10


@dataclass(frozen=True)
class Splits:
    """Train / validation / test splits, each a ``TensorDataset(images, labels)``.

    Images have shape ``(N, 1, 8, 8)``, dtype float32, values in [0, 1]; labels are int64.
    """

    train: TensorDataset
    val: TensorDataset
    test: TensorDataset

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(getattr(self, k))}" for k in ("train", "val", "test"))
        return f"Splits({sizes}, device={self.train.tensors[0].device})"


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{name} must be a float in (0, 1), got {type(value).__name__}")
        if not 0.0 < value < 1.0:
            raise ValueError(f"{name} must be in (0, 1), got {value}")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            "val_fraction + test_fraction must be below 1 so that something is left to train "
            f"on, got {val_fraction} + {test_fraction}"
        )


def load_digits(
    seed: int = 0,
    device: str | torch.device | None = None,
    *,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
) -> Splits:
    """Load the digits as fixed, stratified train / validation / test splits.

    The same ``seed`` always gives the same split. Every class keeps its share in every
    split (stratified sampling), and the three splits never share an image.
    """
    seed = check_seed(seed)
    _check_fractions(val_fraction, test_fraction)
    bunch = datasets.load_digits()  # bundled with scikit-learn: no network
    images = (bunch.images.astype(np.float32) / 16.0).reshape(-1, *IMAGE_SHAPE)
    labels = bunch.target.astype(np.int64)
    index = np.arange(len(labels))
    rest, test_idx = train_test_split(
        index, test_size=test_fraction, stratify=labels, random_state=seed
    )
    train_idx, val_idx = train_test_split(
        rest,
        test_size=val_fraction / (1.0 - test_fraction),
        stratify=labels[rest],
        random_state=seed,
    )
    device = torch.device(device) if device is not None else torch.device("cpu")

    def subset(idx: np.ndarray) -> TensorDataset:
        idx = np.sort(idx)
        x = torch.from_numpy(images[idx]).to(device)
        y = torch.from_numpy(labels[idx]).to(device)
        return TensorDataset(x, y)

    return Splits(subset(train_idx), subset(val_idx), subset(test_idx))


def saved_result(name: str) -> Path:
    """The file ``benchmarks/results/<name>`` that a benchmark script wrote (``"criteria.json"``).

    Looked for from the working directory upwards (a lesson runs in ``notebooks/``), then in
    the repository this package was installed from (an editable install).
    """
    for folder in (Path.cwd(), *Path.cwd().parents, Path(__file__).resolve().parents[2]):
        path = folder / "benchmarks" / "results" / name
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"benchmarks/results/{name} not found: run the script in benchmarks/ that writes it"
    )
