"""The course's :class:`TinyLlama` as a ``transformers`` ``LlamaForCausalLM``, the same function.

The two share their module names (``q_proj`` ... ``down_proj``, ``input_layernorm``, ...), their
rotary convention (dimension ``i`` paired with ``i + head_dim / 2``), RMSNorm, SwiGLU and
grouped-query attention, so the weights carry over one to one: the converted model's logits
equal the original's (a test checks it). From there the model saves with ``save_pretrained`` and
every tool that reads a Hugging Face folder (``llm-compressor``, vLLM, this package's command
line) can read it.
"""

from __future__ import annotations

from torch import nn

from .model import TinyLlama


def to_transformers(model: TinyLlama) -> nn.Module:
    """A ``LlamaForCausalLM`` with ``model``'s weights (copied; ``model`` is unchanged)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    if not isinstance(model, TinyLlama):
        raise TypeError(f"model must be a TinyLlama, got {type(model).__name__}")
    cfg = model.config
    config = LlamaConfig(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.dim,
        intermediate_size=cfg.hidden_dim,
        num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads,
        num_key_value_heads=cfg.n_kv_heads,
        head_dim=cfg.head_dim,
        rms_norm_eps=cfg.norm_eps,
        rope_theta=cfg.rope_theta,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
    )
    hf = LlamaForCausalLM(config)
    state = {f"model.{k}" if k != "lm_head.weight" else k: v for k, v in model.state_dict().items()}
    missing, unexpected = hf.load_state_dict(state, strict=False)
    leftover = [k for k in missing if "rotary_emb" not in k]
    if leftover or unexpected:
        raise ValueError(f"conversion left {leftover} unset and {unexpected} unused")
    device = next(model.parameters()).device
    return hf.to(device).eval()


def byte_tokenizer():
    """A ``PreTrainedTokenizerFast`` whose token ids are the UTF-8 bytes (id = byte value).

    The course model reads bytes (``load_corpus``); this tokenizer gives ``transformers`` tools
    the same ids, built offline with the ``tokenizers`` library: a byte-level BPE with the 256
    byte symbols and no merges.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    symbols = pre_tokenizers.ByteLevel.alphabet()
    to_symbol = {b: c for b, c in enumerate(_byte_symbols())}
    assert set(to_symbol.values()) == set(symbols)
    vocab = {to_symbol[b]: b for b in range(256)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=tok)


def _byte_symbols() -> list[str]:
    """GPT-2's printable stand-in for each byte value (the ByteLevel pre-tokenizer's alphabet)."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    extra = iter(range(256, 512))
    return [chr(b) if b in printable else chr(next(extra)) for b in range(256)]
