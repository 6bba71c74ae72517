"""Layers that describe their own sizes after surgery: attributes, head counts and configs.

After :func:`~.surgery.remove_units` slices a model's tensors, :func:`fix_sizes` makes every
layer's size attributes match them (``out_features``, ``in_channels``, ``groups``,
``normalized_shape``, an LSTM's ``hidden_size``), counts an attention module's heads from its
query and key layers, and updates a ``transformers`` (or dataclass) config where all layers
agree, so that the pruned model can be rebuilt and saved.
"""

from __future__ import annotations

import dataclasses

from torch import nn

#: Attributes of attention modules that count heads, and the child layers whose rows they count.
HEAD_COUNTS = ("num_heads", "num_attention_heads", "n_head", "n_heads")
KV_COUNTS = ("num_key_value_heads", "num_kv_heads")
HEAD_WIDTHS = ("head_dim", "attention_head_size", "key_value_proj_dim")
#: Attributes that hold the width of all heads together (heads x head width).
ALL_HEAD_SIZES = ("all_head_size", "inner_dim")
QUERY_NAMES = ("q_proj", "query", "q", "q_lin")
KEY_NAMES = ("k_proj", "key", "k", "k_lin")
UP_NAMES = ("up_proj", "fc1", "intermediate_dense")
#: A dataclass config's fields for the sizes ``transformers`` calls by the keys (TinyLlama's
#: ``n_heads``, ``n_kv_heads``, ``hidden_dim`` = MLP width, ``dim`` = model width).
CONFIG_ALIASES = {
    "num_attention_heads": ("num_attention_heads", "n_heads"),
    "num_key_value_heads": ("num_key_value_heads", "n_kv_heads"),
    "intermediate_size": ("intermediate_size", "hidden_dim"),
    "hidden_size": ("hidden_size", "dim"),
}


def fix_sizes(model: nn.Module, groups: dict[str, int] | None = None) -> None:
    """Make every layer's size attributes match its tensors (after slicing or loading).

    ``groups``: the new ``groups`` of grouped convolutions that lost whole groups, by name.
    """
    groups = groups or {}
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if isinstance(module, nn.Linear):
            module.out_features, module.in_features = weight.shape
        elif isinstance(module, nn.modules.conv._ConvNd):
            module.groups = groups.get(name, module.groups)
            module.out_channels = weight.shape[0]
            module.in_channels = weight.shape[1] * module.groups
        elif isinstance(module, nn.modules.batchnorm._NormBase):
            stats = weight if weight is not None else module.running_mean
            if stats is not None:
                module.num_features = stats.shape[0]
        elif isinstance(getattr(module, "normalized_shape", None), tuple) and weight is not None:
            shape = tuple(module.normalized_shape)
            module.normalized_shape = (*shape[: -weight.dim()], *weight.shape)
        elif isinstance(module, nn.Embedding):
            module.num_embeddings, module.embedding_dim = weight.shape
        elif isinstance(module, nn.LSTM | nn.GRU | nn.RNN):
            _check_one_hidden_size(name, module)
            module.hidden_size = module.weight_hh_l0.shape[1]
            module.input_size = module.weight_ih_l0.shape[1]
            module._init_flat_weights()
        elif type(module).__name__ == "Conv1D" and weight is not None:  # transformers' GPT-2
            module.nx, module.nf = weight.shape
    for module in model.modules():  # after the layers: heads are counted from their sizes
        _fix_heads(module)
    _fix_config(model)


def _check_one_hidden_size(name: str, module: nn.RNNBase) -> None:
    """``nn.LSTM`` / ``nn.GRU`` have one ``hidden_size`` for all their stacked layers."""
    sizes = [module.get_parameter(f"weight_hh_l{k}").shape[1] for k in range(module.num_layers)]
    if len(set(sizes)) > 1:
        raise ValueError(
            f"{type(module).__name__} {name!r} keeps one hidden size for all its layers, but "
            f"its layers would keep {sizes} units; remove as many units from each layer (one "
            "amount for the layer, not scope='global')"
        )


def _attribute(module: nn.Module, name: str) -> object:
    """``getattr(module, name, None)`` without nn.Module's slow failed lookup (run per module)."""
    if name in module.__dict__ or hasattr(type(module), name):
        return getattr(module, name)
    for store in (module._modules, module._parameters, module._buffers):
        if name in store:
            return store[name]
    return None


def _child(module: nn.Module, names: tuple[str, ...]) -> nn.Linear | None:
    for name in names:
        child = module._modules.get(name)
        if isinstance(child, nn.Linear):
            return child
    return None


def _head_width(module: nn.Module) -> int | None:
    for attr in HEAD_WIDTHS:
        value = _attribute(module, attr)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _fix_heads(module: nn.Module) -> None:
    """An attention module's head counts, from its query and key layers' rows."""
    fused = _attribute(module, "c_attn")  # GPT-2: q, k and v in one layer, split in three
    if type(fused).__name__ == "Conv1D" and isinstance(_attribute(module, "split_size"), int):
        module.split_size = fused.nf // 3
        module.num_heads = module.split_size // module.head_dim
        return
    query = _child(module, QUERY_NAMES)
    width = _head_width(module) if query is not None else None
    if width is None or query is None:
        return
    counts = [a for a in HEAD_COUNTS if isinstance(_attribute(module, a), int)]
    heads = _attribute(module, counts[0]) if counts else None
    if query.out_features % width and heads and query.out_features % heads == 0:
        # one head (a SegFormer stage, ViT with one head): its width was pruned, not heads
        width = query.out_features // heads
        for attr in HEAD_WIDTHS:
            if isinstance(_attribute(module, attr), int):
                setattr(module, attr, width)
    for attr in counts:
        setattr(module, attr, query.out_features // width)
    for attr in ALL_HEAD_SIZES:
        if isinstance(_attribute(module, attr), int):
            setattr(module, attr, query.out_features)
    key = _child(module, KEY_NAMES)
    if key is not None:
        for attr in KV_COUNTS:
            if isinstance(_attribute(module, attr), int):
                setattr(module, attr, key.out_features // width)


#: Config sizes that a config may leave unset (``None``: derived by the model class).
DERIVED_SIZES = ("n_inner", "head_dim")


def _hidden_size(model: nn.Module) -> int | None:
    """The residual stream's width: the token embedding's, or a patch embedding's channels."""
    try:
        embeddings = model.get_input_embeddings()
    except (AttributeError, NotImplementedError):
        embeddings = getattr(model, "embed_tokens", None)  # TinyLlama
    if isinstance(embeddings, nn.Embedding):
        return embeddings.embedding_dim
    projection = getattr(embeddings, "projection", None)  # ViT: a conv cuts patches
    if isinstance(projection, nn.modules.conv._ConvNd):
        return projection.out_channels
    return None


def _sizes_found(model: nn.Module) -> dict[str, set[int]]:
    """Every size a config can state, as the layers have it (one value per layer)."""
    found: dict[str, set[int]] = {}
    for name, module in model.named_modules():
        query, key, up = (_child(module, n) for n in (QUERY_NAMES, KEY_NAMES, UP_NAMES))
        width = _head_width(module) if query is not None else None
        if query is not None and width:
            found.setdefault("num_attention_heads", set()).add(query.out_features // width)
            found.setdefault("head_dim", set()).add(width)
            if key is not None:
                found.setdefault("num_key_value_heads", set()).add(key.out_features // width)
        if up is not None:
            found.setdefault("intermediate_size", set()).add(up.out_features)
        if name.rpartition(".")[2] == "intermediate" and isinstance(
            _attribute(module, "dense"), nn.Linear
        ):  # BERT: the MLP's first layer is intermediate.dense
            found.setdefault("intermediate_size", set()).add(module.dense.out_features)
        if isinstance(_attribute(module, "split_size"), int) and hasattr(module, "c_attn"):
            found.setdefault("num_attention_heads", set()).add(module.num_heads)
            found.setdefault("head_dim", set()).add(module.head_dim)
        fc = _attribute(module, "c_fc")
        if type(fc).__name__ == "Conv1D":  # GPT-2's MLP
            found.setdefault("n_inner", set()).add(fc.nf)
    hidden = _hidden_size(model)
    if hidden is not None:
        found["hidden_size"] = {hidden}
    return found


def _fix_config(model: nn.Module) -> None:
    """A model's config reports the layers' sizes where all layers agree.

    A ``transformers`` config is updated in place: ``hidden_size`` (GPT-2: ``n_embd``),
    ``intermediate_size`` (GPT-2: ``n_inner``), ``num_attention_heads``,
    ``num_key_value_heads``; ``head_dim`` where the config has it or heads no longer fill the
    width (``heads x head_dim != hidden_size``; ViT's and LLaMA's classes read it). GPT-2's and
    BERT's classes derive the head width as ``hidden_size / heads``, so a model of theirs with
    pruned heads but the full width cannot be rebuilt from its config alone:
    ``load_pruned_structure`` rebuilds it from a fresh one. A frozen dataclass config
    (:class:`~pruning_lessons.llm.TinyLlamaConfig`) is replaced by a copy whose fields follow
    :data:`CONFIG_ALIASES`. Sizes that differ between layers (per-layer amounts) are left as
    they were.
    """
    config = getattr(model, "config", None)
    is_transformers = hasattr(config, "to_dict")  # (transformers 5 configs are dataclasses too)
    is_dataclass = not is_transformers and dataclasses.is_dataclass(config)
    if config is None or isinstance(config, type) or not (is_transformers or is_dataclass):
        return
    agreed = {k: v.pop() for k, v in _sizes_found(model).items() if len(v) == 1}
    if is_dataclass:
        fields = {f.name for f in dataclasses.fields(config)}
        changes = {
            alias: agreed[attr]
            for attr, aliases in CONFIG_ALIASES.items()
            for alias in aliases
            if attr in agreed and alias in fields and isinstance(getattr(config, alias), int)
        }
        update_config(model, config, changes)
        return
    for attr, value in agreed.items():
        current = getattr(config, attr, None)
        if attr == "head_dim" and current is None:
            heads, hidden = agreed.get("num_attention_heads"), agreed.get("hidden_size")
            if heads is None or hidden is None or heads * value == hidden:
                continue
        if isinstance(current, int) or (attr in DERIVED_SIZES and current is None):
            setattr(config, attr, value)


def update_config(model: nn.Module, config: object, changes: dict[str, object]) -> None:
    """Set ``changes`` on ``config`` in place; a frozen dataclass config (the course's
    ``TinyLlamaConfig``) is replaced, in every module of ``model`` that holds it, by an
    updated copy."""
    try:
        for attr, value in changes.items():
            setattr(config, attr, value)
    except dataclasses.FrozenInstanceError:
        new = dataclasses.replace(config, **changes)
        for module in model.modules():
            if module.__dict__.get("config") is config:
                module.config = new
