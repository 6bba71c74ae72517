"""Calibration activations streamed through a decoder, one block at a time.

The papers' reference code (SparseGPT, Wanda) never runs the whole model at once: it catches the
inputs of the first block, then runs block after block on them, each block's outputs becoming the
next one's inputs. A ``transformers`` block needs more than its hidden states: the keyword
arguments the model passes it (rotary ``position_embeddings``, the ``attention_mask``, the
``position_ids``, ``cache``...), and some models pass each block its own (Gemma 2 alternates
sliding-window and full-attention masks). :func:`capture` therefore runs the model's own forward
once per calibration chunk with every block's ``forward`` replaced by a recorder: block 0 runs
and records its inputs; every later block only records what the model passes it and hands back
block 0's output, and the last one stops the forward (no head, no loss). What the model computes
before its blocks (embeddings, masks, positions) is thus the model's own code, for any model.

Memory: the hidden states of all calibration tokens (``n x seq_len x hidden``, in the model's
dtype) once, plus one chunk's output while a block runs (:meth:`Stream.advance` replaces the
chunks one at a time), plus the recorded keyword arguments (one set per chunk, shared between
blocks where the model shares them); all on ``device``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from .decoder import Decoder

CHUNK = 16  # calibration sequences per forward call


class _Stop(Exception):
    """Raised by the last block's recorder: the model's forward need not go further."""


def move(value: object, device: torch.device | None, memo: dict[int, object]) -> object:
    """``value`` with every tensor in it (tuples, lists, dicts) on ``device``, sharing kept."""
    if device is None:
        return value
    if torch.is_tensor(value):
        if id(value) not in memo:
            memo[id(value)] = value.to(device)
        return memo[id(value)]
    if isinstance(value, tuple | list):
        return type(value)(move(v, device, memo) for v in value)
    if isinstance(value, dict):
        return {k: move(v, device, memo) for k, v in value.items()}
    return value


def first_parameter_name(block: nn.Module) -> str | None:
    """The name of ``block.forward``'s first parameter (where the hidden states go)."""
    params = list(inspect.signature(block.forward).parameters.values())
    return params[0].name if params else None


class Calls:
    """What block ``i`` is called with for each calibration chunk, hidden states left out."""

    def __init__(self) -> None:
        self.args: list[tuple] = []  # positional arguments after the hidden states
        self.kwargs: list[dict] = []
        self.hidden_kw: list[str | None] = []  # the keyword holding the hidden states, if any

    def record(self, block: nn.Module, args: tuple, kwargs: dict) -> torch.Tensor:
        if args:
            hidden, rest, key = args[0], tuple(args[1:]), None
        else:
            key = first_parameter_name(block)
            if key not in kwargs:
                raise ValueError(
                    f"{type(block).__name__} was called without positional arguments and "
                    f"without {key!r}: cannot tell which argument holds the hidden states"
                )
            hidden, rest = kwargs[key], ()
            kwargs = {k: v for k, v in kwargs.items() if k != key}
        self.args.append(rest)
        self.kwargs.append(kwargs)
        self.hidden_kw.append(key)
        return hidden

    def call(self, block: nn.Module, chunk: int, hidden: torch.Tensor) -> torch.Tensor:
        """Run ``block`` on ``hidden`` with what the model passed it for ``chunk``; hidden out."""
        key, kwargs = self.hidden_kw[chunk], self.kwargs[chunk]
        if key is None:
            out = block(hidden, *self.args[chunk], **kwargs)
        else:
            out = block(**{key: hidden}, **kwargs)
        return out if torch.is_tensor(out) else out[0]

    def to(self, device: torch.device | None, memo: dict[int, object]) -> None:
        self.args = [move(a, device, memo) for a in self.args]
        self.kwargs = [move(k, device, memo) for k in self.kwargs]


@contextmanager
def _recorders(blocks: nn.ModuleList, calls: list[Calls], state: dict) -> Iterator[None]:
    """Temporarily replace each block's ``forward`` by a recorder (see the module docstring)."""
    saved = [block.__dict__.get("forward") for block in blocks]
    last = len(blocks) - 1

    def recorder(i: int, block: nn.Module, original: Callable) -> Callable:
        def forward(*args, **kwargs):
            hidden = calls[i].record(block, args, kwargs)
            if i == 0:
                state["inputs"].append(hidden)
                state["output"] = original(*args, **kwargs)
            if i == last:
                raise _Stop
            return state["output"]

        return forward

    try:
        for i, block in enumerate(blocks):
            block.forward = recorder(i, block, block.forward)
        yield
    finally:
        for block, old in zip(blocks, saved, strict=True):
            if old is None:
                block.__dict__.pop("forward", None)
            else:
                block.forward = old


def _accepts(model: nn.Module, name: str) -> bool:
    params = inspect.signature(model.forward).parameters.values()
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in params)


def chunks(n: int, first: int = 1, size: int = CHUNK) -> list[slice]:
    """Calibration rows per forward call: the first chunk alone (for the dry run), then ``size``."""
    edges = [0, min(first, n)]
    while edges[-1] < n:
        edges.append(min(edges[-1] + size, n))
    return [slice(a, b) for a, b in zip(edges, edges[1:], strict=False)]


class Stream:
    """Hidden states of the calibration chunks, and how to run each block on them."""

    def __init__(self, hidden: list[torch.Tensor], calls: list[Calls]) -> None:
        self.hidden, self.calls = hidden, calls

    def run(self, i: int, block: nn.Module) -> None:
        """Block ``i`` on every chunk's hidden states, outputs dropped (for hooks that measure)."""
        with torch.no_grad():
            for c in range(len(self.hidden)):
                self.calls[i].call(block, c, self.hidden[c])

    def advance(self, i: int, block: nn.Module) -> None:
        """Replace the hidden states by block ``i``'s outputs, chunk by chunk.

        Each chunk's input is released as soon as its output exists, so the stream holds the
        hidden states once plus one chunk, never the inputs and outputs of all chunks at once.
        """
        with torch.no_grad():
            for c in range(len(self.hidden)):
                self.hidden[c] = self.calls[i].call(block, c, self.hidden[c])


def capture(
    model: nn.Module, decoder: Decoder, calibration: torch.Tensor, device: torch.device | None
) -> Stream:
    """Run ``model``'s forward per chunk of ``calibration`` and catch every block's inputs.

    Nothing in ``model`` changes (its blocks' ``forward`` is restored even on an error).
    """
    blocks = decoder.blocks
    calls = [Calls() for _ in blocks]
    state: dict = {"inputs": [], "output": None}
    home = decoder.embedding.weight.device
    extra = {"use_cache": False} if _accepts(model, "use_cache") else {}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), _recorders(blocks, calls, state):
            for rows in chunks(len(calibration)):
                try:
                    model(calibration[rows].to(home), **extra)
                except _Stop:
                    pass
                else:
                    raise ValueError(
                        f"model ({decoder.model_class}) ran its forward without calling its last "
                        f"block {decoder.blocks_name}.{len(blocks) - 1}: the blocks must run in "
                        "order, once each"
                    )
    finally:
        model.train(was_training)
    if any(len(c.kwargs) != len(state["inputs"]) for c in calls):
        raise ValueError(
            f"model ({decoder.model_class}) did not call each block of {decoder.blocks_name} "
            "once per forward"
        )
    memo: dict[int, object] = {}
    for c in calls:
        c.to(device, memo)
    hidden = [move(h, device, memo) for h in state["inputs"]]
    return Stream(hidden, calls)
