"""A pruned language model on disk: with ``save_pretrained``, or in a compact sparse form.

``save_pretrained`` / ``from_pretrained`` need nothing from this package: the masks are
non-persistent buffers, so the saved weights are the pruned weights, zeros included, and a
fresh model loads them (as large as dense: the zeros are stored). :func:`save_compact` stores
the block layers' non-zero weights only:

* an N:M sparse layer (2:4 by default): the ``n`` kept values of every group of ``m``, plus each
  value's position in its group in ``ceil(log2 m)`` bits (2 bits for 2:4), the layout of
  NVIDIA's sparse tensor cores: for 2:4 in fp16 ``(8 + 1) / 16`` of dense, in fp32 ``17 / 32``;
* any other pruned layer: a bitmask (1 bit per weight) plus the kept values;
* everything else (embeddings, norms, head, dense layers) as it is.

One ``safetensors`` file (``model.compact.safetensors``) next to the model's ``config.json``;
:func:`load_compact` rebuilds the ``transformers`` class from the config (or fills a model you
give), with the masks installed so that the zeros hold through fine-tuning.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..weights.masks import install_mask
from .decoder import find_decoder, is_transposed, weight_matrix

FORMAT = "pruning-lessons/compact/v1"
FILE = "model.compact.safetensors"


def _bits(m: int) -> int:
    return max(1, math.ceil(math.log2(m)))


def pack_bits(values: torch.Tensor, bits: int) -> torch.Tensor:
    """Unsigned ints ``< 2**bits`` packed ``bits`` each into uint8 (little-endian bit order)."""
    v = values.reshape(-1).to(torch.int64).numpy()
    planes = ((v[:, None] >> np.arange(bits)) & 1).astype(np.uint8)
    return torch.from_numpy(np.packbits(planes.reshape(-1), bitorder="little"))


def unpack_bits(packed: torch.Tensor, bits: int, count: int) -> torch.Tensor:
    flat = np.unpackbits(packed.numpy(), bitorder="little")[: count * bits].reshape(count, bits)
    return torch.from_numpy((flat.astype(np.int64) << np.arange(bits)).sum(1))


def _is_n_m(keep: torch.Tensor, n: int, m: int) -> bool:
    return keep.shape[1] % m == 0 and bool((keep.reshape(len(keep), -1, m).sum(-1) <= n).all())


def encode(weight: torch.Tensor, keep: torch.Tensor, n_m: tuple[int, int]) -> tuple[dict, dict]:
    """``(tensors, header)`` of one ``(out, in)`` weight whose zeros are ``~keep``."""
    n, m = n_m
    rows, cols = weight.shape
    if _is_n_m(keep, n, m):
        groups = keep.reshape(rows, -1, m)
        # the kept positions first (then pruned ones to fill short groups), in index order
        order = torch.sort((~groups).to(torch.uint8), dim=-1, stable=True).indices[..., :n]
        positions = torch.sort(order, dim=-1).values
        values = torch.gather(weight.reshape(rows, -1, m), -1, positions)
        return (
            {"values": values.contiguous(), "positions": pack_bits(positions, _bits(m))},
            {"kind": "n:m", "n": n, "m": m, "shape": [rows, cols]},
        )
    flat = keep.reshape(-1)
    return (
        {"values": weight.reshape(-1)[flat].contiguous(), "bitmask": pack_bits(flat, 1)},
        {"kind": "bitmask", "shape": [rows, cols]},
    )


def decode(tensors: dict[str, torch.Tensor], header: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """``(weight, keep)``, both ``(out, in)``, from :func:`encode`'s output."""
    rows, cols = header["shape"]
    values = tensors["values"]
    if header["kind"] == "n:m":
        n, m = header["n"], header["m"]
        positions = unpack_bits(tensors["positions"], _bits(m), rows * cols // m * n)
        positions = positions.reshape(rows, cols // m, n)
        weight = torch.zeros(rows, cols // m, m, dtype=values.dtype)
        weight.scatter_(-1, positions, values)
        keep = torch.zeros(rows, cols // m, m, dtype=torch.bool).scatter_(-1, positions, True)
        return weight.reshape(rows, cols), keep.reshape(rows, cols)
    keep = unpack_bits(tensors["bitmask"], 1, rows * cols).bool()
    weight = torch.zeros(rows * cols, dtype=values.dtype)
    weight[keep] = values
    return weight.reshape(rows, cols), keep.reshape(rows, cols)


def save_compact(model: nn.Module, folder: str | Path, *, n_m: tuple[int, int] = (2, 4)) -> Path:
    """Write ``model`` (pruned) compactly into ``folder``; returns the file written.

    Every block layer with zeros is stored N:M (``n_m``) if each of its groups has at most
    ``n`` non-zeros, else as a bitmask; the rest as it is. The config is saved next to it
    (``model.config.save_pretrained``) when the model has one.
    """
    from safetensors.torch import save_file

    decoder = find_decoder(model)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    layers = {name + ".weight": layer for name, layer in decoder.all_layers().items()}
    tensors, headers, seen = {}, {}, {}
    for key, value in model.state_dict().items():
        pointer = (value.data_ptr(), value.shape, value.dtype)
        if pointer in seen and value.numel():  # a tied weight: stored once
            headers[key] = {"kind": "alias", "of": seen[pointer]}
            continue
        seen[pointer] = key
        layer = layers.get(key)
        matrix = None if layer is None else weight_matrix(layer).detach().cpu()
        keep = None if matrix is None else matrix != 0
        if keep is not None and not keep.all():
            parts, header = encode(matrix, keep, n_m)
            tensors |= {f"{key}:{part}": t for part, t in parts.items()}
            headers[key] = header | {"transposed": is_transposed(layer)}
        else:
            tensors[key] = value.detach().cpu().contiguous()
            headers[key] = {"kind": "dense"}
    path = folder / FILE
    save_file(tensors, str(path), metadata={"format": FORMAT, "tensors": json.dumps(headers)})
    config = getattr(model, "config", None)
    if hasattr(config, "save_pretrained"):
        config.save_pretrained(folder)
    return path


def load_compact(folder: str | Path, model: nn.Module | None = None) -> nn.Module:
    """The model :func:`save_compact` wrote: filled into ``model``, or rebuilt from the folder's
    ``config.json`` with ``transformers.AutoModelForCausalLM``. Masks are installed."""
    from safetensors import safe_open

    path = Path(folder) / FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist (save_compact writes it)")
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path} is not a {FORMAT} file (format {meta.get('format')!r})")
        stored = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (not a dict)
    headers = json.loads(meta["tensors"])
    if model is None:
        from transformers import AutoConfig, AutoModelForCausalLM

        config = AutoConfig.from_pretrained(folder)
        model = AutoModelForCausalLM.from_config(config)
    state, keeps = {}, {}
    for key, header in headers.items():
        if header["kind"] == "dense":
            state[key] = stored[key]
        elif header["kind"] != "alias":
            parts = {
                p: stored[f"{key}:{p}"]
                for p in ("values", "positions", "bitmask")
                if f"{key}:{p}" in stored
            }
            weight, keep = decode(parts, header)
            state[key], keeps[key] = (weight.T, keep.T) if header["transposed"] else (weight, keep)
    for key, header in headers.items():
        if header["kind"] == "alias":
            state[key] = state[header["of"]]
    model.load_state_dict(state, strict=True)
    for key, keep in keeps.items():
        install_mask(model.get_submodule(key.removesuffix(".weight")), "weight", keep)
    return model.eval()
