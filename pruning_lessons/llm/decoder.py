"""Finding the parts of a decoder-only language model, whatever its attributes are called.

The post-training pruners need four things from a model: the list of its decoder blocks, the
token embedding (to check the calibration ids), the layers that stay dense (embeddings, final
norm, head) and, inside every block, the linear layers to prune. Hugging Face models keep them
under different names (``model.layers``, ``model.decoder.layers`` for OPT, ``transformer.h`` for
GPT-2 and Falcon, ``gpt_neox.layers``), so :func:`find_decoder` looks by structure, not by name:

* **blocks**: the outermost ``nn.ModuleList`` whose entries hold linear layers (exactly one);
* **embedding**: ``model.get_input_embeddings()`` where the model has it, else the one
  ``nn.Embedding`` outside the blocks;
* **head**: ``model.get_output_embeddings()``, else the linear layer outside the blocks with one
  output per token of the vocabulary (``None`` for a model without one);
* **prunable layers**: every ``nn.Linear`` (subclasses included) and every ``transformers``
  ``Conv1D`` (GPT-2's projections, weight stored as ``(in, out)``) inside a block: attention and
  MLP, fused ones (``qkv_proj``, ``gate_up_proj``, ``query_key_value``) too.

A model that lacks one of these gets a ``ValueError`` naming its class and what is missing.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import torch
from torch import nn


def _conv1d_class() -> type | None:
    """``transformers``' ``Conv1D`` if transformers is loaded (a model holding one has loaded it;
    the course's own model needs no transformers, so it is never imported here)."""
    module = sys.modules.get("transformers.pytorch_utils")
    return getattr(module, "Conv1D", None)


def is_prunable(module: nn.Module) -> bool:
    """An ``nn.Linear`` or a ``transformers`` ``Conv1D``: a layer ``y = x W^T + b``."""
    conv1d = _conv1d_class()
    return isinstance(module, nn.Linear) or (conv1d is not None and isinstance(module, conv1d))


def is_transposed(layer: nn.Module) -> bool:
    """True for ``Conv1D``, whose weight is stored ``(in, out)``; False for ``nn.Linear``."""
    return not isinstance(layer, nn.Linear)


def weight_matrix(layer: nn.Module) -> torch.Tensor:
    """The layer's weight as ``(out, in)``: one row per output (a view, never a copy)."""
    return layer.weight.T if is_transposed(layer) else layer.weight


def as_stored(layer: nn.Module, matrix: torch.Tensor) -> torch.Tensor:
    """An ``(out, in)`` tensor (a new weight, a mask) in the layer's own storage layout."""
    return matrix.T if is_transposed(layer) else matrix


def prunable_layers(block: nn.Module) -> dict[str, nn.Module]:
    """Every prunable layer of ``block``, by its name inside it (``self_attn.q_proj``)."""
    return {name: m for name, m in block.named_modules() if name and is_prunable(m)}


@dataclass
class Decoder:
    """Where the parts of a decoder-only model are (names relative to the model)."""

    model_class: str
    blocks_name: str
    blocks: nn.ModuleList
    embedding: nn.Embedding
    head: nn.Module | None
    dense: list[str] = field(default_factory=list)  # modules with parameters outside the blocks

    def layers(self, i: int) -> dict[str, nn.Module]:
        """Block ``i``'s prunable layers by full name (``model.layers.0.self_attn.q_proj``)."""
        block = self.blocks[i]
        if isinstance(block, nn.Identity):  # a block removed by drop_blocks
            return {}
        prefix = f"{self.blocks_name}.{i}."
        return {prefix + name: layer for name, layer in prunable_layers(block).items()}

    def all_layers(self) -> dict[str, nn.Module]:
        """Every prunable layer of every block, by full name."""
        return {
            name: layer for i in range(len(self.blocks)) for name, layer in self.layers(i).items()
        }


def _refuse(model: nn.Module, what: str) -> ValueError:
    return ValueError(
        f"model ({type(model).__name__}) is not a decoder the LLM pruners can follow: {what}"
    )


def _block_lists(model: nn.Module) -> list[tuple[str, nn.ModuleList]]:
    """The outermost ModuleLists whose entries hold prunable layers."""
    found: list[tuple[str, nn.ModuleList]] = []
    for name, module in model.named_modules():
        if not isinstance(module, nn.ModuleList) or not len(module):
            continue
        if any(name.startswith(outer + ".") for outer, _ in found):
            continue  # a list inside a block (experts, say) belongs to that block
        if any(is_prunable(m) for m in module.modules()):
            found.append((name, module))
    return found


def _inside(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _embedding(model: nn.Module, blocks_name: str) -> nn.Embedding:
    getter = getattr(model, "get_input_embeddings", None)
    if callable(getter):
        try:
            embed = getter()
        except (NotImplementedError, AttributeError):
            embed = None
        if isinstance(embed, nn.Embedding):
            return embed
    outside = [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, nn.Embedding) and not _inside(name, blocks_name)
    ]
    if len(outside) == 1:
        return outside[0][1]
    if not outside:
        raise _refuse(model, "no nn.Embedding for the token ids outside its blocks")
    names = ", ".join(name for name, _ in outside)
    raise _refuse(
        model,
        f"several nn.Embedding outside its blocks ({names}) and no get_input_embeddings() "
        "saying which one reads the token ids",
    )


def _head(model: nn.Module, blocks_name: str, vocab: int) -> nn.Module | None:
    getter = getattr(model, "get_output_embeddings", None)
    if callable(getter):
        try:
            head = getter()
        except (NotImplementedError, AttributeError):
            head = None
        if isinstance(head, nn.Module):
            return head
    heads = [
        m
        for name, m in model.named_modules()
        if is_prunable(m) and not _inside(name, blocks_name) and weight_matrix(m).shape[0] == vocab
    ]
    return heads[-1] if heads else None


def find_decoder(model: object) -> Decoder:
    """The blocks, embedding, head and dense parts of ``model``, else a ``ValueError`` saying why.

    Works for any decoder-only ``transformers`` causal LM (Llama, Qwen, Mistral, Gemma, Phi,
    OPT, GPT-2, GPT-NeoX, Falcon, ...) and for the course's :class:`TinyLlama`. Checks only; it
    changes nothing.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    config = getattr(model, "config", None)
    if getattr(config, "is_encoder_decoder", False):
        raise _refuse(
            model, "it is an encoder-decoder model; these pruners follow decoder-only ones"
        )
    lists = _block_lists(model)
    if not lists:
        raise _refuse(
            model,
            "no nn.ModuleList of blocks holding linear layers (such as model.layers or "
            "transformer.h)",
        )
    if len(lists) > 1:
        names = ", ".join(name for name, _ in lists)
        raise _refuse(model, f"several lists of blocks ({names}); expected one decoder stack")
    blocks_name, blocks = lists[0]
    embed = _embedding(model, blocks_name)
    head = _head(model, blocks_name, embed.num_embeddings)
    for i, block in enumerate(blocks):
        if not isinstance(block, nn.Identity) and not prunable_layers(block):
            raise _refuse(
                model, f"block {blocks_name}.{i} ({type(block).__name__}) has no linear layer"
            )
    dense = [
        name
        for name, m in model.named_modules()
        if name
        and not _inside(name, blocks_name)
        and any(True for _ in m.parameters(recurse=False))
    ]
    return Decoder(type(model).__name__, blocks_name, blocks, embed, head, dense)


INTEGER_IDS = (torch.int32, torch.int64)


def check_token_ids(
    calibration: object, embed: nn.Embedding, name: str = "calibration"
) -> torch.Tensor:
    """``(n, seq_len)`` int32/int64 token ids inside the vocabulary, ``n, seq_len >= 1``."""
    if not torch.is_tensor(calibration) or calibration.dtype not in INTEGER_IDS:
        got = (
            f"a tensor of {calibration.dtype}"
            if torch.is_tensor(calibration)
            else type(calibration).__name__
        )
        raise TypeError(
            f"{name} must be an integer tensor of token ids (n, seq_len) of dtype torch.int64 or "
            f"torch.int32, got {got}"
        )
    if calibration.dim() != 2 or 0 in calibration.shape:
        raise ValueError(
            f"{name} must have shape (n sequences, seq_len) with both >= 1, got "
            f"{tuple(calibration.shape)} (calibration_batches makes one)"
        )
    low, high = int(calibration.min()), int(calibration.max())
    if low < 0 or high >= embed.num_embeddings:
        raise ValueError(
            f"{name} holds token ids {low}..{high}; the model knows 0..{embed.num_embeddings - 1}"
        )
    return calibration
