"""Bytes on disk of the digits MLP: dense, torch.nn.utils.prune, and this package's sparse file.

    python benchmarks/bench_storage.py [--amounts 0.5 0.8 0.9 0.95 0.98]

Trains the 64-300-100-10 MLP once, prunes copies globally by magnitude, and saves each in
three ways. Writes results/storage.json and .md.
"""

from __future__ import annotations

import argparse
import copy
import io

import torch
from _common import markdown_table, write_results
from torch.nn.utils import prune

import pruning_lessons as pl


def nbytes_sparse(model: torch.nn.Module) -> tuple[int, bool]:
    """Size of the sparse file, and whether loading it back is bit-exact."""
    buffer = io.BytesIO()
    pl.save_sparse(model, buffer)
    size = buffer.getbuffer().nbytes
    buffer.seek(0)
    loaded = pl.load_sparse(pl.mlp(), buffer)
    a, b = loaded.state_dict(), model.state_dict()
    return size, a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def nbytes_torch_prune(trained: torch.nn.Module, amount: float) -> int:
    """torch.nn.utils.prune, then prune.remove: the usual way to 'export' a pruned model."""
    model = copy.deepcopy(trained)
    layers = [(m, "weight") for m in (model.fc1, model.fc2, model.fc3)]
    prune.global_unstructured(layers, pruning_method=prune.L1Unstructured, amount=amount)
    for module, name in layers:
        prune.remove(module, name)
    return pl.file_size(model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--amounts", type=float, nargs="+", default=[0.5, 0.8, 0.9, 0.95, 0.98])
    args = parser.parse_args()
    data = pl.load_digits()
    pl.seed_everything(0)
    trained = pl.mlp()
    pl.fit(trained, data, progress=False)
    dense = pl.file_size(trained)
    rows, results = [], []
    for amount in args.amounts:
        model = copy.deepcopy(trained)
        pl.magnitude_prune(model, amount, scope="global")
        sparse, exact = nbytes_sparse(model)
        via_torch = nbytes_torch_prune(trained, amount)
        results.append(
            {
                "amount": amount,
                "dense_bytes": dense,
                "torch_prune_bytes": via_torch,
                "sparse_bytes": sparse,
                "ratio": dense / sparse,
                "bit_exact": exact,
            }
        )
        rows.append(
            [
                f"{amount:.0%}",
                f"{dense:,}",
                f"{via_torch:,}",
                f"{sparse:,}",
                f"{dense / sparse:.1f}x",
                "yes" if exact else "NO",
            ]
        )
    table = markdown_table(
        [
            "sparsity",
            "torch.save dense",
            "torch prune + remove",
            "save_sparse",
            "dense / sparse",
            "bit-exact reload",
        ],
        rows,
    )
    note = (
        "\n\nsave_sparse stores each pruned weight tensor as a bitmask (1 bit per entry) "
        "plus its kept float32 values; biases and buffers stay dense. Pruning with "
        "torch.nn.utils.prune and calling remove() leaves dense tensors full of zeros, so "
        "the file does not shrink."
    )
    write_results(
        "storage",
        {"results": results},
        table + note,
        "File size of the pruned digits MLP (global magnitude pruning)",
    )


if __name__ == "__main__":
    main()
