"""How big, how sparse, how much compute and how fast: the numbers every lesson reports."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from .device import evaluating, like_model, using_threads

_MAC_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _attention_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    """FLOPs of attention's CPU kernel: the two products its GPU kernels are counted for."""
    return sdpa_flop_count(query_shape, key_shape, value_shape)


#: Kernels FlopCounterMode has no formula for (attention's CPU kernel), by ATen operator.
_EXTRA_FLOPS = {}
if hasattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu"):
    _EXTRA_FLOPS[torch.ops.aten._scaled_dot_product_flash_attention_for_cpu] = _attention_flops


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (weights, biases, normalisation scales), zero or not."""
    return sum(p.numel() for p in model.parameters())


def count_nonzero(model: nn.Module) -> int:
    """Number of parameters that are not exactly zero."""
    return sum(int(torch.count_nonzero(p)) for p in model.parameters())


@dataclass(frozen=True)
class SparsityRow:
    name: str
    shape: tuple[int, ...]
    numel: int
    nonzero: int

    @property
    def sparsity(self) -> float:
        """Fraction of entries that are exactly zero."""
        return 1.0 - self.nonzero / self.numel if self.numel else 0.0


class SparsityReport(list):
    """A list of :class:`SparsityRow`, one per parameter, that prints as a table.

    It renders as HTML in JupyterLab and as aligned text in a terminal.
    """

    @property
    def total(self) -> SparsityRow:
        return SparsityRow("total", (), sum(r.numel for r in self), sum(r.nonzero for r in self))

    def _rows(self) -> list[tuple[str, str, str, str, str]]:
        rows = [
            (
                r.name,
                "x".join(map(str, r.shape)),
                f"{r.numel:,}",
                f"{r.nonzero:,}",
                f"{r.sparsity:6.1%}",
            )
            for r in [*self, self.total]
        ]
        return [("parameter", "shape", "entries", "non-zero", "sparsity"), *rows]

    def __str__(self) -> str:
        rows = self._rows()
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        lines = [
            "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
            for row in rows
        ]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head, *body = self._rows()
        th = "".join(f"<th>{c}</th>" for c in head)
        trs = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in body)
        return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def sparsity_report(model: nn.Module, *, weights_only: bool = False) -> SparsityReport:
    """Per-parameter entries, non-zeros and sparsity, plus a total (``report.total``).

    With ``weights_only=True`` only the weights of Linear and Conv layers are listed.
    """
    report = SparsityReport()
    for module_name, module in model.named_modules():
        for param_name, p in module.named_parameters(recurse=False):
            if weights_only and not (isinstance(module, _MAC_LAYERS) and param_name == "weight"):
                continue
            name = f"{module_name}.{param_name}" if module_name else param_name
            report.append(SparsityRow(name, tuple(p.shape), p.numel(), int(torch.count_nonzero(p))))
    return report


def count_macs(model: nn.Module, example_input: torch.Tensor, *, nonzero_only: bool = False) -> int:
    """Multiply-accumulates of one forward pass on ``example_input`` (all its samples).

    Dense MACs are half the FLOPs that ``torch.utils.flop_counter.FlopCounterMode`` counts:
    every matrix product and convolution, including attention (``bmm``,
    ``scaled_dot_product_attention``) and any ``matmul`` in ``forward``; element-wise work
    (normalisation, activations, pooling) is not counted. An ``nn.LSTM``, one fused operation
    to the counter, is counted from its sizes. A Linear layer costs
    ``in_features`` MACs per output value, a Conv layer ``in_channels / groups x kernel
    volume``. With ``nonzero_only=True`` each output value of a Linear or Conv layer costs only
    the non-zero weights of its neuron/filter (the theoretical cost if zeros were skipped;
    ShrinkBench's "theoretical speed-up" is the ratio of the two counts); other products count
    in full.
    """
    layers = {"dense": 0, "nonzero": 0, "recurrent": 0}

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        out_units = module.out_features if isinstance(module, nn.Linear) else module.out_channels
        positions = output.numel() // out_units  # batch x spatial positions
        layers["dense"] += positions * module.weight.numel()
        layers["nonzero"] += positions * int(torch.count_nonzero(module.weight))

    def lstm_hook(module: nn.LSTM, inputs: tuple, output: tuple) -> None:
        x = inputs[0]
        steps = x.numel() // x.shape[-1]  # batch x time (a packed sequence counts its rows)
        directions = 2 if module.bidirectional else 1
        gates = 4 * module.hidden_size
        width = module.proj_size or module.hidden_size
        for layer in range(module.num_layers):
            fan_in = module.input_size if layer == 0 else width * directions
            layers["recurrent"] += steps * directions * gates * (fan_in + width)

    # FlopCounterMode sees no matrix product inside aten.lstm (one fused op), so the gates of
    # an LSTM are counted here: 4 x hidden x (inputs + hidden) MACs per step, layer, direction
    handles = [m.register_forward_hook(lstm_hook) for m in model.modules() if type(m) is nn.LSTM]
    if nonzero_only:
        handles += [
            m.register_forward_hook(hook) for m in model.modules() if isinstance(m, _MAC_LAYERS)
        ]
    try:
        with (
            evaluating(model),
            FlopCounterMode(display=False, custom_mapping=_EXTRA_FLOPS) as counter,
        ):
            model(like_model(example_input, model))
    finally:
        for h in handles:
            h.remove()
    total = counter.get_total_flops() // 2 + layers["recurrent"]
    return total - layers["dense"] + layers["nonzero"] if nonzero_only else total


def file_size(obj: nn.Module | dict) -> int:
    """Bytes that ``torch.save`` writes for a model's ``state_dict`` (or for a given dict)."""
    state = obj.state_dict() if isinstance(obj, nn.Module) else obj
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getbuffer().nbytes


@dataclass(frozen=True)
class Latency:
    """Median and inter-quartile range of one forward pass, in seconds."""

    median: float
    iqr: float
    batch_size: int
    threads: int
    device: str

    @property
    def per_sample(self) -> float:
        return self.median / self.batch_size


def measure_latency(
    model: nn.Module,
    example_input: torch.Tensor,
    *,
    batch_size: int = 256,
    threads: int = 1,
    warmup: int = 5,
    min_run_time: float = 0.3,
) -> Latency:
    """Median wall-clock time of ``model(batch)`` in eval mode, without autograd.

    ``example_input`` is one sample (or a batch whose first sample is used), repeated to
    ``batch_size``. The thread count is fixed (default 1) so that two models timed one after
    the other are compared fairly; ``torch.utils.benchmark`` runs the measurement, including
    CUDA synchronisation. Compare models by ratios measured side by side in one run.
    A model without parameters or buffers (a frozen TorchScript module, a pooling layer) runs
    on ``example_input``'s device.
    """
    from torch.utils import benchmark  # imported here: it is slow to import

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    x = like_model(example_input[:1], model)
    x = x.expand(batch_size, *example_input.shape[1:]).contiguous()
    # a frozen TorchScript module has no train/eval flags: it is timed as it is
    modes = evaluating(model) if hasattr(model, "training") else contextlib.nullcontext()
    with modes:
        with torch.no_grad(), using_threads(threads):
            for _ in range(warmup):
                model(x)
        timer = benchmark.Timer(
            stmt="with torch.no_grad(): model(x)",
            globals={"model": model, "x": x, "torch": torch},
            num_threads=threads,
        )
        m = timer.blocked_autorange(min_run_time=min_run_time)
    return Latency(m.median, m.iqr, batch_size, threads, str(x.device))
