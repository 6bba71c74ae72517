"""Small random-weight configs of decoder-only ``transformers`` causal LMs (the LLM tests' zoo).

Every model has 2 blocks, hidden width 32 and a vocabulary of 64 tokens: milliseconds to run.
"""

from __future__ import annotations

import torch

VOCAB = 64


def _configs() -> dict:
    import transformers as T

    gqa = {"num_attention_heads": 4, "num_key_value_heads": 2}
    common = {"vocab_size": VOCAB, "hidden_size": 32, "num_hidden_layers": 2}
    return {
        "llama": T.LlamaConfig(**common, intermediate_size=64, **gqa),
        "qwen2": T.Qwen2Config(**common, intermediate_size=64, **gqa),
        "qwen3": T.Qwen3Config(**common, intermediate_size=64, head_dim=8, **gqa),
        "mistral": T.MistralConfig(**common, intermediate_size=64, **gqa),
        # sliding window 4 < the test sequences: its two blocks get different masks
        "gemma2": T.Gemma2Config(
            **common, intermediate_size=64, head_dim=8, sliding_window=4, **gqa
        ),
        "phi3": T.Phi3Config(**common, intermediate_size=64, pad_token_id=0, **gqa),
        "opt": T.OPTConfig(
            **common,
            ffn_dim=64,
            num_attention_heads=4,
            word_embed_proj_dim=32,
            max_position_embeddings=64,
        ),
        "gpt2": T.GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64),
        "gpt_neox": T.GPTNeoXConfig(**common, intermediate_size=64, num_attention_heads=4),
        "falcon": T.FalconConfig(**common, num_attention_heads=4),
    }


ARCHITECTURES = (
    "llama",
    "qwen2",
    "qwen3",
    "mistral",
    "gemma2",
    "phi3",
    "opt",
    "gpt2",
    "gpt_neox",
    "falcon",
)


def hf_model(name: str, seed: int = 0):
    """A random-weight ``AutoModelForCausalLM`` of architecture ``name``, in eval mode."""
    import transformers as T

    T.logging.set_verbosity_error()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = T.AutoModelForCausalLM.from_config(_configs()[name])
    return model.eval()
