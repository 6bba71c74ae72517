"""Pruning language models: a small LLaMA-style decoder, perplexity and post-training pruners.

* ``model``: :class:`TinyLlama` (RMSNorm, rotary positions, SwiGLU, grouped-query attention)
  and the course's trained checkpoint (:func:`load_tiny_llama`).
* ``corpus``: the Python standard library's source as an offline byte corpus.
* ``evaluate``: :func:`perplexity`, :func:`token_scores`, :func:`calibration_batches`.
* ``names``: :func:`name_scores`, loss and accuracy on the bytes of names (what perplexity
  averages away).
* ``calibrate``: activation statistics collected with forward hooks.
* ``posttraining``: :func:`row_magnitude_prune`, :func:`wanda_prune`, :func:`sparsegpt_prune`,
  in place and block by block (``sequential``, ``stream``) on the course model or any
  decoder-only ``transformers`` causal LM (``decoder``: :func:`find_decoder`).
* ``owl``: :func:`owl_sparsities`, per-block sparsity from outlier ratios
  (:func:`owl_outlier_ratios`, OWL).
* ``slicegpt``: :func:`slice_model` (SliceGPT: fold the norms, rotate the residual stream
  by its PCA, :func:`residual_pca`, and slice the embedding dimension).
* ``depth``: :func:`block_influence` (ShortGPT), :func:`drop_blocks`.
* ``width``: :func:`prune_heads`, :func:`prune_mlp_width`, :func:`prune_model_width`
  (activation importance, Minitron, :func:`width_scores`), removed by
  :func:`~pruning_lessons.prune_units`.
* ``distill``: :func:`distill` (KL to the dense teacher) and :func:`fine_tune` (the plain
  next-token loss) for recovery, on the same windows at an equal budget.
* ``speed``: one linear layer timed dense / with zeros / narrower, and 2:4 on a GPU.

Width pruning (attention heads, MLP width, model width) is structured pruning: ``width`` only
scores the units; :func:`~pruning_lessons.prune_units` removes them, so there is one pruner.
"""

from . import speed
from .calibrate import input_norms
from .convert import byte_tokenizer, to_transformers
from .corpus import Corpus, load_corpus, unigram_perplexity
from .decoder import Decoder, find_decoder
from .depth import block_influence, blocks_by_influence, drop_blocks
from .distill import distill, distill_loss, fine_tune
from .evaluate import calibration_batches, perplexity, token_scores
from .model import PROJECTIONS, TinyLlama, TinyLlamaConfig, load_tiny_llama, tiny_llama
from .names import name_scores
from .owl import owl_outlier_ratios, owl_sparsities
from .posttraining import (
    prune_llm,
    row_magnitude_prune,
    row_mask,
    sparsegpt_prune,
    sparsegpt_solve,
    wanda_prune,
    wanda_scores,
)
from .slicegpt import residual_pca, slice_model
from .width import prune_heads, prune_mlp_width, prune_model_width, width_scores

__all__ = [
    "block_influence",
    "byte_tokenizer",
    "blocks_by_influence",
    "calibration_batches",
    "Corpus",
    "Decoder",
    "distill",
    "distill_loss",
    "drop_blocks",
    "find_decoder",
    "fine_tune",
    "input_norms",
    "load_corpus",
    "load_tiny_llama",
    "name_scores",
    "owl_outlier_ratios",
    "owl_sparsities",
    "perplexity",
    "PROJECTIONS",
    "prune_heads",
    "prune_llm",
    "prune_mlp_width",
    "prune_model_width",
    "residual_pca",
    "row_magnitude_prune",
    "row_mask",
    "slice_model",
    "sparsegpt_prune",
    "sparsegpt_solve",
    "speed",
    "TinyLlama",
    "TinyLlamaConfig",
    "tiny_llama",
    "to_transformers",
    "token_scores",
    "unigram_perplexity",
    "wanda_prune",
    "wanda_scores",
    "width_scores",
]
