"""An offline text corpus: the Python standard library's own source code, as bytes.

Nothing is downloaded: the files come with every Python installation. The top-level modules
(``<stdlib>/*.py``) are shuffled with ``seed`` and dealt out whole into test, validation and
training files, so no file is split across two sets. Tokens are the UTF-8 bytes (vocabulary
256). The result depends only on ``seed`` and on the Python version (its library's files).
"""

from __future__ import annotations

import math
import random
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import torch

from ..core.device import check_seed

VOCAB_SIZE = 256


@dataclass(frozen=True)
class Corpus:
    """Token streams (1-D int64 tensors of byte values) and the file names in each split."""

    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor
    files: dict[str, list[str]]
    python: str

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(getattr(self, k)):,}" for k in ("train", "val", "test"))
        return f"Corpus(Python {self.python} standard library, bytes: {sizes})"


def stdlib_files() -> list[Path]:
    """The standard library's top-level ``.py`` files, sorted by name."""
    return sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))


def load_corpus(seed: int = 0, *, eval_bytes: int = 200_000) -> Corpus:
    """Split the standard library into test / validation / training bytes.

    Files are shuffled with ``seed``; the first ones go to the test set until it holds at least
    ``eval_bytes`` bytes, the next ones to the validation set likewise, the rest to training.
    """
    seed = check_seed(seed)
    if isinstance(eval_bytes, bool) or not isinstance(eval_bytes, int) or eval_bytes < 1:
        raise ValueError(f"eval_bytes must be a positive int, got {eval_bytes!r}")
    files = stdlib_files()
    if not files:
        raise FileNotFoundError("no standard library .py files found next to this Python")
    random.Random(seed).shuffle(files)
    splits: dict[str, list[Path]] = {"test": [], "val": [], "train": []}
    sizes = dict.fromkeys(splits, 0)
    for path in files:
        name = next((s for s in ("test", "val") if sizes[s] < eval_bytes), "train")
        splits[name].append(path)
        sizes[name] += path.stat().st_size

    def tokens(paths: list[Path]) -> torch.Tensor:
        data = b"".join(p.read_bytes() for p in paths)
        return torch.frombuffer(bytearray(data), dtype=torch.uint8).long()

    return Corpus(
        train=tokens(splits["train"]),
        val=tokens(splits["val"]),
        test=tokens(splits["test"]),
        files={k: [p.name for p in v] for k, v in splits.items()},
        python=".".join(map(str, sys.version_info[:3])),
    )


def unigram_perplexity(train: torch.Tensor, test: torch.Tensor, vocab_size: int = VOCAB_SIZE):
    """Perplexity of the best context-free model: byte frequencies of ``train`` (add-one).

    ``exp(-mean log p(token))`` over ``test``: what a model that ignores all context scores.
    """
    counts = torch.bincount(train, minlength=vocab_size).double() + 1.0
    log_p = (counts / counts.sum()).log()
    return math.exp(-float(log_p[test].mean()))
