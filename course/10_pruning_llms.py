# %% [markdown]
# # 10 · Pruning language models

# %% [markdown]
# <!-- bilingual-box -->
# > **The question** · **问题**
# >
# > **EN** How do you prune a large language model, and what does it buy?
# >
# > **中文** 如何剪枝大语言模型？能换来什么？
# >
# > **Three takeaways** · **三个要点**
# >
# > 1. Score a weight by its size *and* the size of its input: Wanda uses |W_ij| · ||X_j||₂
# > within each output row; SparseGPT also updates the kept weights (Optimal Brain Surgeon).
# >    <br>评分要同时看权重大小和输入大小：Wanda 在每个输出行内用 |W_ij|·||X_j||₂；SparseGPT 还会更新保留的权重（最优脑外科）。
# > 2. Zeros alone buy no speed: 2:4 runs faster only on sparse tensor cores (NVIDIA Ampere and
# > newer); removing heads, width or blocks makes every device faster.
# >    <br>只把权重置零不会带来加速：2:4 只在稀疏张量核心（NVIDIA Ampere 及更新）上加速；删除注意力头、宽度或整个 Transformer 块才能在所有设备上加速。
# > 3. Judge by perplexity on held-out text plus downstream tasks, with measured latency;
# > recover by fine-tuning, distillation or LoRA (compared at an equal budget), quantize last.
# >    <br>用留出文本上的困惑度加下游任务来评估，并实测延迟；用微调、蒸馏或 LoRA 恢复（在相同预算下比较），最后再量化。

# %% [markdown]
# **The interview question:** *How do you prune a large language model, and what does it buy?*
#
# Lessons 01-08 pruned small networks and then fine-tuned them. A 7-billion-parameter model
# cannot be fine-tuned casually after every pruning step, so LLM pruning is mostly
# **post-training**: look at a little **calibration** text once, decide what to remove, and
# at most repair the damage cheaply. This lesson does all of it on a small LLaMA-style model
# that runs on your CPU: the same architecture (RMSNorm, rotary positions, SwiGLU MLP,
# grouped-query attention, the same layer names as Hugging Face's `LlamaForCausalLM`), only
# 1.2 M parameters, trained offline on the source code of the Python standard library.

# %%
import copy
import json
import math
import statistics

import matplotlib.pyplot as plt
import torch

import pruning_lessons as pl
from pruning_lessons import llm
from pruning_lessons.teaching.exercises.llm import ex1
from pruning_lessons.teaching.explorers.llm import DEFAULT, llm_explorer, pruned_perplexity

torch.set_num_threads(1)  # a small model: one thread is steadier on a shared laptop
model = llm.load_tiny_llama()
corpus = llm.load_corpus(seed=0)
test = corpus.test[:8192]  # a slice of the held-out files keeps each evaluation to seconds
dense = llm.perplexity(model, test)
unigram = llm.unigram_perplexity(corpus.train, test)
print(corpus)
print(
    f"model: {pl.count_parameters(model):,} parameters in {len(model.layers)} blocks; "
    f"trained on {model.record['train_tokens']:,} bytes"
)
print(f"test perplexity: dense model {dense:.2f}, unigram (byte frequencies) {unigram:.2f}")

# %% [markdown]
# **Perplexity** is `exp(mean cross-entropy)` of the next-token predictions on text the model
# never saw: the number of equally likely next bytes the model is, on average, as unsure as.
# The unigram model knows only how often each byte occurs; the small transformer, reading the
# context, is far less unsure. Papers report perplexity on WikiText-2 (LLaMA-7B: 5.68 dense).
#
# Here is the definition computed by hand on one window, next to the library's function:

# %%
window = test[: 128 + 1]
with torch.no_grad():
    log_p = torch.log_softmax(model(window[None, :-1])[0], dim=-1)
by_hand = torch.exp(-log_p[torch.arange(128), window[1:]].mean()).item()
print(f"one window: by hand {by_hand:.4f}, library {llm.perplexity(model, window):.4f}")

# %% [markdown]
# ## 1 · Outlier features: where magnitude pruning fails
#
# A linear layer computes `y_i = sum_j W_ij x_j`. Removing `W_ij` changes the output by
# `W_ij x_j`: its effect depends on the weight **and on the input it multiplies**. Large LLMs
# grow a few *outlier features*, input dimensions whose activations are tens of times larger
# than the others (Dettmers et al. 2022). A small weight on such a feature matters more than
# a large one elsewhere, and magnitude pruning, which never looks at the inputs, removes it.
# On LLaMA-7B at 50 % the Wanda paper measured WikiText-2 perplexity 17.29 for magnitude
# against 5.68 dense, 7.26 for Wanda and 7.22 for SparseGPT.
#
# That 17.29 is **per-layer** magnitude: one threshold over each whole weight matrix. Wanda
# differs from it in two ways, its score and its comparison group (each output row loses the
# same share). This lesson's baseline, `llm.row_magnitude_prune`, compares within each row
# too, so it differs from Wanda only in the score. Which of the two magnitude baselines is
# the stronger one is a question for the model at hand. Both on ours, 50 % of every
# projection:

# %%
projections = [n for n, _ in model.named_parameters() if n.endswith("_proj.weight")]
per_layer = copy.deepcopy(model)
pl.magnitude_prune(per_layer, 0.5, scope="layer", parameters=projections)
per_row = copy.deepcopy(model)
llm.row_magnitude_prune(per_row, 0.5)
baselines = {"per-layer": llm.perplexity(per_layer, test), "per-row": llm.perplexity(per_row, test)}
stronger = min(baselines, key=baselines.get)
print(
    f"magnitude 50 %: per-layer (the paper's baseline) {baselines['per-layer']:.3f}, per-row "
    f"(this lesson's) {baselines['per-row']:.3f}, dense {dense:.3f}: {stronger} is the "
    "stronger baseline here"
)

# %% [markdown]
# Do the inputs of our small model vary that much? The norms `||X_j||` of every input
# feature, over 16 calibration sequences, collected with forward hooks:

# %%
calibration = llm.calibration_batches(corpus.train, 16, 128, seed=0)
norms = llm.input_norms(model, calibration)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
for ax, name in zip(axes, ["layers.3.self_attn.q_proj", "layers.3.mlp.down_proj"], strict=True):
    ax.bar(range(len(norms[name])), norms[name].numpy(), width=1.0)
    ax.set(title=name, xlabel="input feature j", ylabel="||X_j||")
fig.tight_layout()
plt.show()
ratios = {name: float(v.max() / v.median()) for name, v in norms.items()}
worst = max(ratios, key=ratios.get)
print(
    f"largest ||X_j|| / median over the {len(ratios)} projections: from "
    f"{min(ratios.values()):.1f}x to {ratios[worst]:.1f}x ({worst})"
)

# %% [markdown]
# ## 2 · Exercise: write the Wanda mask
#
# Wanda (Sun et al. 2023) scores each weight by `|W_ij| * ||X_j||_2`, where `X_j` is input
# feature `j` over **all** calibration tokens, and compares scores **within each output row**:
# every row loses the same number of weights, `round(amount * n_in)`. Nothing else: no
# gradients, no weight update. Write it for one layer. `batches` is a list of activation
# matrices, each `(tokens, n_in)`; among equal scores prune the lower index first.
#
# `ex1.check(fn)` says Correct / Incorrect (with what is wrong) / Not attempted yet;
# `ex1.hint(1..3)` and `ex1.solution()` help; `ex1.use(fn)` keeps yours if it passes.


# %% exercise="10.ex1"
def wanda_mask(weight: torch.Tensor, batches: list[torch.Tensor], amount: float) -> torch.Tensor:
    """Keep-mask: in each output row prune the round(amount * n_in) lowest |W_ij| * ||X_j||."""
    ### BEGIN SOLUTION
    x = torch.cat(batches)
    scores = weight.abs() * x.norm(dim=0)
    k = round(amount * weight.shape[1])
    lowest = torch.argsort(scores, dim=1, stable=True)[:, :k]
    return torch.ones_like(weight, dtype=torch.bool).scatter(1, lowest, False)
    ### END SOLUTION


# %%
ex1.check(wanda_mask)

# %% [markdown]
# Your function against the library on a real layer: the inputs of block 0's `q_proj`,
# in two batches, give the same mask as `llm.wanda_scores` + `llm.row_mask`.

# %%
wanda_mask = ex1.use(wanda_mask)
layer = model.layers[0].self_attn.q_proj
seen = []
hook = layer.register_forward_pre_hook(lambda m, args: seen.append(args[0].flatten(0, 1)))
with torch.no_grad():
    model(calibration[:8])
    model(calibration[8:])
hook.remove()
mine = wanda_mask(layer.weight.detach(), seen, 0.5)
library = llm.row_mask(llm.wanda_scores(layer.weight, torch.cat(seen).norm(dim=0)), 0.5)
magnitude = llm.row_mask(layer.weight.abs(), 0.5)
print(f"your mask equals the library's: {torch.equal(mine, library)}")
print(f"weights Wanda and magnitude choose differently: {(mine != magnitude).float().mean():.1%}")

# %% [markdown]
# ## 3 · Magnitude, Wanda and SparseGPT side by side
#
# **SparseGPT** (Frantar & Alistarh 2023) goes back to **Optimal Brain Surgeon** (Hassibi &
# Stork 1993). Optimal Brain Damage (LeCun et al. 1990) ranks weights by a second-order
# estimate of the loss increase and just removes them; OBS uses the full inverse Hessian and
# also **moves the remaining weights** to cancel the damage. For a linear layer the Hessian of
# the reconstruction error is `H = X^T X`, from calibration inputs (the Hessian of the
# layer's own output error, not of the network's loss). Exact OBS is hopeless at this size:
# every row has its own mask, so every row would need its own inverse Hessian of its
# remaining weights. SparseGPT makes it affordable for 175 B parameters with three ideas:
#
# * **One column order for all rows.** It handles the columns left to right; after column `j`
#   every row's still-free weights are the columns after `j`, the same set for all rows. So
#   all rows share one sequence of inverse Hessians, each obtained from the previous one by
#   dropping a column, which is what the rows of one Cholesky factor of `H^-1` give. Each
#   pruned weight's error is then spread over the later columns of its row.
# * **Adaptive mask selection.** The mask is not fixed in advance: it is chosen for a block of
#   128 columns at a time, by OBS's saliency `w^2 / [H^-1]_jj` computed *after* the updates of
#   the earlier blocks, and the updates are applied lazily, block by block.
# * **Dampening.** A small multiple of the mean diagonal (1 %) is added to `H` so that it can be
#   inverted and the updates stay stable (`damp` in `llm.sparsegpt_prune`).
#
# With these, OPT-175B was pruned in under 4.5 hours on one GPU. For unstructured sparsity the
# paper's code compares the saliencies of a whole 128-column block at once, with one
# threshold, so rows may end with different sparsities. `llm.sparsegpt_prune` does the same
# by default (`mask_rule="block"`); `mask_rule="row"` makes every row of the block lose the
# same share instead, Wanda's comparison group. Which is better is measured, on our model
# converted to `transformers`' `LlamaForCausalLM` (`benchmarks/bench_llm_transformers.py`):

# %%
rules = json.loads(pl.saved_result("llm_transformers.json").read_text())
by_rule = {(r["sparsity"], r["mask_rule"]): r["perplexity"] for r in rules["mask_rules"]}
for amount in sorted({a for a, _ in by_rule}):
    block, row = by_rule[amount, "block"], by_rule[amount, "row"]
    better = "block" if block < row else "row"
    print(
        f"{amount:.0%}: one threshold per block {block:.3f}, same share per row {row:.3f} "
        f"(dense {rules['dense']:.3f}): the {better} rule is better by {abs(block - row):.3f}"
    )

# %% [markdown]
# Both run **block by block**: the calibration activations pass through the blocks already
# pruned, so each block is fitted to the inputs it will really receive. All seven projections
# of every block lose 50 % (magnitude and Wanda: of each row; SparseGPT, as in its paper: of
# each 128-column tile, one threshold, so rows may differ); embedding and output stay dense.

# %%
live = {}
for method in ("magnitude", "wanda", "sparsegpt"):
    for target in ("50%", "2:4"):
        sparsity = 0.5 if target == "50%" else "2:4"
        live[method, target] = pruned_perplexity(
            model, test, corpus.train, method, sparsity, 16, dense=dense
        )
        print(live[method, target])

# %% [markdown]
# **2:4** (semi-structured) sparsity keeps 2 of every 4 consecutive weights in a row: the same
# 50 %, but less freedom in where the zeros go, so it costs more perplexity than 50 %
# unstructured. At scale the cost is large: on LLaMA-7B the Wanda paper measured one-shot 2:4
# at 11.00 (SparseGPT) and 11.53 (Wanda) against 5.68 dense and 7.22 / 7.26 for the same
# methods at 50 % unstructured. In exchange it is the pattern NVIDIA's sparse tensor cores run
# (section 6 says how much that buys). `pl.is_nm_sparse` checks the pattern:

# %%
pruned = copy.deepcopy(model)
llm.wanda_prune(pruned, calibration, n_m=(2, 4))
q = pruned.layers[0].self_attn.q_proj.weight
zeros = (q == 0).float().mean()
print(f"block 0 q_proj is 2:4 sparse: {pl.is_nm_sparse(q, 2, 4)}; zeros: {zeros:.0%}")
print("its first row starts:", " ".join(f"{v:+.3f}" for v in q[0, :8].tolist()))

# %% [markdown]
# SparseGPT's weight update, on one layer: the reconstruction error `||(W - W') X^T||^2` of
# the layer's own output, with Wanda's mask alone and with the same mask after SparseGPT's
# update.

# %%
layer = model.layers[3].mlp.down_proj
seen = []
hook = layer.register_forward_pre_hook(lambda m, args: seen.append(args[0].flatten(0, 1)))
with torch.no_grad():
    model(calibration)
hook.remove()
x = torch.cat(seen)
w = layer.weight.detach()
keep = llm.row_mask(llm.wanda_scores(w, x.norm(dim=0)), 0.5)
updated, _ = llm.sparsegpt_solve(w, x.T @ x, keep=keep)
error_mask = (x @ (w - w * keep).T).pow(2).sum().item()
error_update = (x @ (w - updated).T).pow(2).sum().item()
print(
    f"down_proj of block 3: reconstruction error {error_mask:.1f} with the mask alone, "
    f"{error_update:.1f} after the update ({error_update / error_mask:.0%})"
)

# %% [markdown]
# ## 4 · The full study: three calibration samples, 50-70 % and 2:4, calibration size
#
# The cells above used one calibration sample and a short test slice. The study in
# `benchmarks/bench_llm.py` repeats each method over three calibration samples on a longer
# test slice, at 50, 60 and 70 % and 2:4, and varies the calibration size from 1 to 256
# sequences. It takes minutes, so the lesson reads its saved result:

# %%
study = json.loads(pl.saved_result("llm.json").read_text())
print(f"dense perplexity {study['dense']:.3f} on {study['eval_tokens']:,} test bytes")
print(f"{'target':>7} " + " ".join(f"{m:>20}" for m in ("magnitude", "wanda", "sparsegpt")))
for target, methods in study["runs"].items():
    cells = []
    for method in ("magnitude", "wanda", "sparsegpt"):
        values = torch.tensor(methods[method]["ppl"])
        spread = f" +- {values.std().item():.3f}" if len(values) > 1 else ""
        cells.append(f"{values.mean().item():.3f}{spread}".rjust(20))
    print(f"{target:>7} " + " ".join(cells))

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
for method, by_size in study["calibration_sizes"].items():
    sizes = sorted(by_size, key=int)
    means = [torch.tensor(by_size[n]).mean().item() for n in sizes]
    ax.plot([int(n) for n in sizes], means, marker="o", label=method)
ax.axhline(study["dense"], color="k", ls="--", label="dense")
ax.set(xscale="log", xlabel="calibration sequences of 128 bytes", ylabel="test perplexity")
ax.set_title("50 % unstructured")
ax.legend()
plt.show()
at_one = {m: torch.tensor(v["1"]).mean().item() for m, v in study["calibration_sizes"].items()}
at_most = {
    m: torch.tensor(v[max(v, key=int)]).mean().item() for m, v in study["calibration_sizes"].items()
}
for method in at_one:
    print(
        f"{method}: perplexity {at_one[method]:.3f} with 1 sequence, "
        f"{at_most[method]:.3f} with the most"
    )

# %% [markdown]
# Read it like a reviewer: a difference smaller than the spread over calibration samples is
# not a difference. The verdict below is computed from the saved numbers:

# %%
for target, methods in study["runs"].items():
    mean = {m: torch.tensor(v["ppl"]).mean().item() for m, v in methods.items()}
    std = {
        m: torch.tensor(v["ppl"]).std().item() if len(v["ppl"]) > 1 else 0.0
        for m, v in methods.items()
    }
    order = sorted(mean, key=mean.get)
    beats = [m for m in ("wanda", "sparsegpt") if mean["magnitude"] - mean[m] > 2 * std[m]]
    print(
        f"{target}: best to worst {' < '.join(order)}; clearly better than magnitude "
        f"(by more than 2 std): {', '.join(beats) or 'neither'}"
    )

# %% [markdown]
# Whether the papers' ranking shows up depends on what made magnitude fail there: outlier
# features. Wanda's score differs from magnitude's only where the input norms `||X_j||`
# differ across features, so look back at section 1:

# %%
spiky = sorted(name for name, r in ratios.items() if r > 5)
kinds = sorted({name.rpartition(".")[2] for name in spiky})
print(
    f"{len(spiky)} of {len(ratios)} projections have an input feature more than 5x the median "
    f"norm (kinds: {', '.join(kinds) or 'none'}); the others at most "
    f"{max(r for n, r in ratios.items() if n not in spiky):.1f}x"
)

# %% [markdown]
# So Wanda's score can change the choice only where the norms are spread out, and here only
# the inputs of `down_proj` are. Does it help there, and does it hurt elsewhere? The saved
# study `benchmarks/bench_llm_projections.py` measures it kind by kind: all seven projections
# pruned at 50 % with row magnitude, except one kind that takes Wanda's mask (**swap**); and
# each kind pruned alone, with either mask (**alone**).

# %%
split = json.loads(pl.saved_result("llm_projections.json").read_text())
print(
    f"50 % per row, {split['eval_tokens']:,} test bytes: dense {split['dense']:.3f}, row "
    f"magnitude {split['row_magnitude']:.3f}, per-layer magnitude "
    f"{split['layer_magnitude']:.3f}, "
    f"Wanda {torch.tensor(split['wanda']).mean().item():.3f}"
)
header = ("projection", "max/median", "swap: Wanda here", "alone: magnitude", "alone: Wanda")
print("{:>10} {:>10} {:>17} {:>16} {:>12}".format(*header))
helped, hurt = [], []
for kind, values in split["swap"].items():
    swap = torch.tensor(values)
    alone_wanda = torch.tensor(split["alone_wanda"][kind]).mean().item()
    print(
        f"{kind:>10} {split['input_norm_max_over_median'][kind]:9.1f}x "
        f"{swap.mean().item():17.3f} {split['alone_magnitude'][kind]:16.3f} {alone_wanda:12.3f}"
    )
    beyond = swap.std().item() if len(swap) > 1 else 0.0
    if swap.mean().item() + beyond < split["row_magnitude"]:
        helped.append(kind)
    elif swap.mean().item() - beyond > split["row_magnitude"]:
        hurt.append(kind)
print(
    f"Wanda's mask on one kind beats row magnitude (beyond its spread over calibration samples) "
    f"for: {', '.join(helped) or 'none'}; it is worse for: {', '.join(hurt) or 'none'}"
)
changes = {k: statistics.fmean(v) - split["row_magnitude"] for k, v in split["swap"].items()}
best = min(changes, key=changes.get)
all_wanda = statistics.fmean(split["wanda"])
print(
    f"every swap moves perplexity by at most {max(abs(c) for c in changes.values()):.3f}; "
    f"the largest gain is {-changes[best]:.3f} ({best}; down_proj, the kind with outliers: "
    f"{-changes['down_proj']:+.3f}); Wanda on all seven kinds ({all_wanda:.3f}) is "
    + (
        "worse than row magnitude: the kinds' small gains do not add up to a win"
        if all_wanda > split["row_magnitude"]
        else "better than row magnitude"
    )
)

# %% [markdown]
# That is the honest picture at this size. Per kind, Wanda's mask and magnitude's differ by a
# few thousandths of perplexity either way, and even the spread of `down_proj`'s input norms
# adds little to what the weights already say. The kinds that read the residual stream
# (`q_proj`, `k_proj`, `v_proj`, `gate_proj`, `up_proj`, after an RMSNorm) have nearly flat
# norms here. In the models the papers prune, that is where the outlier features sit: a few
# dimensions of the residual stream, large in every layer (Dettmers et al. saw them emerge
# at about 6.7 B parameters), so they feed most projections of every block, and the weight
# alone misjudges many connections. That is the regime of Wanda's 7.26 against magnitude's
# 17.29. What this model predicts is therefore conditional: Wanda helps as far as the inputs
# have outliers, and no further. SparseGPT does not depend on outliers: its weight
# update repairs part of every pruned row's error (the reconstruction errors printed in
# section 3), which is why it leads at every target here.
#
# ### OWL: a sparsity for each block
#
# Every pruner so far took the same share from every block. **OWL** (Yin et al. 2024,
# *outlier-weighted layer-wise sparsity*) gives each block its own share: a block whose
# weights carry many **outliers**, Wanda scores `|W_ij| * ||X_j||` far above the block's
# mean, loses more when pruned, so it is pruned less and the others more. For block `l` it
# counts `D_l`, the share of the block's scores above `M` times their mean; it maps the
# shares linearly onto a band `2 * lambda` wide (the block with the most outliers at
# `target - lambda`, the one with the fewest at `target + lambda`) and shifts the band so that
# the mean over the blocks is exactly the target (here every block has the same number of
# weights, so that is also the overall sparsity). `M` and `lambda` are its two
# hyper-parameters, found by a small grid search in the paper; for LLaMA it uses `M = 5` and
# `lambda = 0.08`, the library's defaults. The sparsities are then handed to any pruner:
# `owl=True`, or the dict itself as `amount`. On our model, Wanda at 70 %:

# %%
owl_ratios = llm.owl_outlier_ratios(model, calibration)
owl_chosen = llm.owl_sparsities(model, calibration, 0.7)
for block, share in owl_chosen.items():
    print(f"{block}: outlier ratio {owl_ratios[block]:.2%} -> sparsity {share:.3f}")
print(f"mean sparsity {statistics.fmean(owl_chosen.values()):.3f}")
owl_live = {
    "uniform": llm.perplexity(llm.wanda_prune(model, calibration, 0.7, copy=True), test),
    "OWL": llm.perplexity(llm.wanda_prune(model, calibration, owl_chosen, copy=True), test),
}
print(
    f"Wanda 70 %: uniform {owl_live['uniform']:.3f}, OWL {owl_live['OWL']:.3f} (dense {dense:.3f})"
)

# %% [markdown]
# The saved study `benchmarks/bench_llm_owl.py` does the same for all three methods at 50, 60
# and 70 %, over three calibration samples, and at 70 % tries `lambda` halved and doubled and
# OWL **reversed** (the blocks with more outliers pruned *more*), a control that says whether
# the direction of the rule matters or any spread would do:

# %%
owl = json.loads(pl.saved_result("llm_owl.json").read_text())
print(f"test perplexity, {owl['eval_tokens']:,} bytes (dense {owl['dense']:.3f})")
print(f"{'target':>6} {'method':>10} {'uniform':>8} {'OWL':>8}")
owl_cells = {"better": [], "worse": [], "tie": []}
for target, methods in owl["runs"].items():
    for method, run in methods.items():
        uniform, chosen = statistics.fmean(run["uniform"]), statistics.fmean(run["owl"])
        noise = max(statistics.stdev(v) if len(v) > 1 else 0.0 for v in run.values())
        verdict = (
            "better" if chosen + noise < uniform else "worse" if chosen - noise > uniform else "tie"
        )
        owl_cells[verdict].append(f"{method} {target}")
        print(f"{target:>6} {method:>10} {uniform:8.3f} {chosen:8.3f} ({chosen - uniform:+.3f})")
ratios_mean = [
    statistics.fmean(r[b] for r in owl["outlier_ratios"]) for b in owl["outlier_ratios"][0]
]
owl_total = sum(map(len, owl_cells.values()))
print(
    f"OWL beats uniform (beyond the spread over calibration samples) in "
    f"{len(owl_cells['better'])} of {owl_total} cells and loses in {len(owl_cells['worse'])}; the "
    f"blocks' outlier ratios range only from {min(ratios_mean):.2%} to {max(ratios_mean):.2%}"
)
level = owl["controls_level"]
for method, values in owl["controls"].items():
    first = owl["runs"][level][method]  # the controls use the first calibration sample
    row = ", ".join(f"{name} {v:.3f}" for name, v in values.items())
    print(
        f"{level} {method:>9}, first sample: uniform {first['uniform'][0]:.3f}, "
        f"OWL {first['owl'][0]:.3f}; {row}"
    )
reversed_wins = [
    m for m, v in owl["controls"].items() if v["reversed"] < owl["runs"][level][m]["uniform"][0]
]
print(f"the reversed rule beats uniform at {level} for: {', '.join(reversed_wins) or 'none'}")

# %% [markdown]
# So on this model OWL does not help; it hurts, and more the wider its band. Its signal is weak
# here: the six blocks' outlier ratios differ by a fraction of a percentage point, yet the
# rule stretches any difference to the full `+- lambda`. And the signal points the wrong way:
# giving the blocks with more outliers *more* sparsity did better than uniform (on one
# calibration sample), so in this model those blocks are not the fragile ones. The paper
# measured the opposite at scale, where outlier features are strong and uneven across layers:
# on LLaMA-7B at 70 % Wanda's WikiText-2 perplexity fell from 85.77 to 24.55 with OWL, and its
# abstract reports gains of 61.22 over Wanda and 6.80 over SparseGPT at that sparsity. Like
# Wanda's score, OWL is a bet on outlier features; without them there is nothing to bet on, so
# measure it on your own model before trusting it.

# %% [markdown]
# ### What perplexity hides
#
# Perplexity is the exponential of the *mean* loss over every byte, and most bytes are easy: a
# space, a bracket, the end of a common word. A pruned model can hold that mean while it loses
# more on the few bytes that carry information. Jaiswal et al. (2024) built the LLM-KICK
# benchmark around this: Wanda and SparseGPT models whose perplexity had barely moved
# answered knowledge-intensive questions much worse. Our model knows no trivia, but it does
# know names: after a dot comes an attribute (`os.path.join`, `self.assertEqual`).
# `llm.name_scores` sorts the bytes of these names into two groups: names that already
# appeared earlier in the window the model reads (it can *copy* them) and names it must
# *recall from its weights*, and gives each group's loss and top-1 accuracy:

# %%
scores = llm.name_scores(model, test)
for group in ("all", "memory", "context"):
    g = scores[group]
    print(f"{group:>7}: {g['bytes']:5,} bytes, loss {g['loss']:.3f}, top-1 {g['top1']:.1%}")

# %% [markdown]
# The study `benchmarks/bench_llm_names.py` prunes with all three methods and measures the
# same groups on 200 KB of held-out text; the accuracy drops are paired (the same bytes before
# and after), with their standard error:

# %%
names = json.loads(pl.saved_result("llm_names.json").read_text())
groups = ("all", "memory", "context")
print(f"{'pruned':>15} {'ppl rise':>9} " + " ".join(f"{g + ' lost':>15}" for g in groups))
for run, r in names["runs"].items():
    lost = " ".join(
        f"{r[g]['top1_drop']['points']:8.1f} +- {r[g]['top1_drop']['se']:.1f}" for g in groups
    )
    rise = math.exp(r["all"]["loss"] - names["dense"]["all"]["loss"]) - 1
    print(f"{run:>15} {rise:8.1%} {lost}")


def lost_more(r, group):
    """The group lost more top-1 points than the average byte, beyond two standard errors."""
    drop, average = r[group]["top1_drop"], r["all"]["top1_drop"]
    return drop["points"] - average["points"] > 2 * (drop["se"] + average["se"])


counts = {}
for group, words in (("context", "copied from the context"), ("memory", "recalled from memory")):
    counts[group] = [run for run, r in names["runs"].items() if lost_more(r, group)]
    print(
        f"names {words} lost clearly more than the average byte in {len(counts[group])} of "
        f"{len(names['runs'])} pruned models: {', '.join(counts[group]) or 'none'}"
    )
mildest = min(names["runs"], key=lambda run: names["runs"][run]["all"]["loss"])
r = names["runs"][mildest]
print(
    f"{mildest}, the mildest: perplexity {math.exp(r['all']['loss']):.3f} against dense "
    f"{math.exp(names['dense']['all']['loss']):.3f}; top-1 points lost: "
    f"{r['all']['top1_drop']['points']:.1f} on all bytes, "
    f"{r['context']['top1_drop']['points']:.1f} on names copied from the context"
)
where = [g for g in ("context", "memory") if lost_more(r, g)]
words = {"context": "names copied from the context", "memory": "names recalled from memory"}
print(
    "in the mildest pruned model, the loss beyond the average byte's sits in: "
    + (" and ".join(words[g] for g in where) or "neither group of names")
)

# %% [markdown]
# A change in perplexity that looks like noise can sit on top of a loss concentrated in one
# kind of token, and which kind depends on the model. At scale, LLM-KICK saw recall of facts
# from the weights fail first, even at 25-30 % sparsity and for N:M patterns, while pruned
# models at 50 % still retrieved and summarised well from a context they were given. Our
# 1.2 M-parameter byte model has memorised far less, so its split need not be theirs; compare
# the lines above with it. What carries over is the method: judge a pruned LLM on what it
# will be used for, with tasks that need what it memorised and tasks that give it the answer
# in the prompt (the EleutherAI evaluation harness has both), against the dense model on the
# same examples, next to perplexity.

# %% [markdown]
# ## 5 · Heads, width and depth, with distillation
#
# Unstructured and 2:4 zeros keep every matrix its size. **Structured** pruning removes whole
# pieces, so the model is smaller and faster everywhere:
#
# * **attention heads**: the head's rows of `q_proj` (and, under grouped-query attention, a
#   key/value head together with all query heads sharing it) and the matching input columns
#   of `o_proj`;
# * **MLP width**: the same rows of `gate_proj` and `up_proj` and columns of `down_proj`;
# * **model width**: one dimension of the residual stream, in every layer that reads or
#   writes it, the norms and the embedding included;
# * **depth**: whole blocks.
#
# Minitron (NVIDIA 2024) ranks heads, neurons and embedding channels by their activations
# on calibration data, prunes width and depth, and retrains by **distillation** from the
# original model, with up to 40x fewer tokens than training each size from scratch. Two other
# well-known recipes differ in how they choose and how they recover. **Sheared-LLaMA** (Xia et
# al. 2024) *learns* the structure: hard-concrete (L0-style) masks over heads, MLP neurons,
# embedding channels and layers are trained with constraints that steer the model toward a
# chosen target shape, and the pruned model recovers by continued pre-training.
# **LLM-Pruner** (Ma et al. 2023) finds groups of coupled weights by their dependencies,
# scores each group by a first-order Taylor estimate of the loss change, and recovers
# cheaply with LoRA. Width removal is the library's structured pruner
# (`pl.prune_units`, lesson 08) applied to this model. Depth is the simplest case, so it comes
# first.
#
# **ShortGPT** (Men et al. 2024) scores each block by its *Block Influence*,
# `1 - cos(input, output)` over calibration tokens: a block that hardly turns the hidden state
# can go. Dropping a block of a residual network is exact surgery: its input flows straight on.

# %%
influence = llm.block_influence(model, calibration)
print("Block Influence per block:", ", ".join(f"{i}: {v:.3f}" for i, v in enumerate(influence)))
drop = llm.blocks_by_influence(model, calibration, 1)
shallow = llm.drop_blocks(model, drop)
before = llm.perplexity(shallow, test)
print(
    f"block {', '.join(map(str, drop))} dropped: {pl.count_parameters(shallow):,} parameters "
    f"({pl.count_parameters(shallow) / pl.count_parameters(model):.0%}), perplexity {before:.2f}"
)

# %% [markdown]
# Recovery by **knowledge distillation** (Hinton et al. 2015): the shallower student learns
# the dense teacher's next-byte distributions, `T^2 * KL(teacher_T || student_T)`, for a few
# steps on training text.

# %%
losses = llm.distill(shallow, model, corpus.train, 2.0, steps=20, batch_size=8, seq_len=64)
after = llm.perplexity(shallow, test)
print(
    f"KL loss {losses[0]:.3f} -> {losses[-1]:.3f} over {len(losses)} steps; "
    f"perplexity {before:.2f} -> {after:.2f} (dense {dense:.2f})"
)

# %% [markdown]
# The saved study (`benchmarks/bench_llm_depth.py`) drops two and three blocks and gives one
# small budget (the same steps and the same windows of training bytes for the same seed) to
# three recoveries: distillation; plain fine-tuning of the same shallow model on the next-byte loss,
# with no teacher; and training the same shallow shape from scratch:

# %%
depth = json.loads(pl.saved_result("llm_depth.json").read_text())
for n in ("2", "3"):
    d = depth[n]
    print(
        f"{n} blocks dropped ({d['params_left']:.0%} of the parameters left): perplexity "
        f"{d['dropped']:.2f}; after {depth['tokens']:,} bytes: {d['distilled']:.2f} distilled, "
        f"{d['fine_tuned']:.2f} fine-tuned, {d['scratch']:.2f} for the same shape from scratch"
    )

# %% [markdown]
# **Heads and MLP width.** `llm.prune_heads` and `llm.prune_mlp_width` score units the way
# Minitron does, by the size of their activations on the calibration text: a head by the norm
# of its attention output (the input columns of `o_proj` it owns), an MLP neuron by the norm of
# `silu(gate_proj(x)) * up_proj(x)` (its input to `down_proj`), each an L2 norm over a
# sequence's tokens, averaged over the sequences. Under grouped-query attention a unit is a
# key/value head together with every query head that shares it, so `amount=0.5` removes one of
# this model's two key/value heads in every block. The removal itself is `pl.prune_units`
# (lesson 08), told which layers to narrow; the pruned model's config states its new shape.

# %%
for prune in (llm.prune_heads, llm.prune_mlp_width):
    narrow = prune(model, 0.5, calibration)
    cfg, left = narrow.config, pl.count_parameters(narrow) / pl.count_parameters(model)
    print(
        f"{prune.__name__}(amount=0.5): {left:.0%} of the parameters left ({cfg.n_heads} "
        f"query / {cfg.n_kv_heads} key-value heads, MLP width {cfg.hidden_dim}); "
        f"perplexity {dense:.2f} -> {llm.perplexity(narrow, test):.2f}"
    )

# %% [markdown]
# The saved study (`benchmarks/bench_llm_width.py`) removes heads, MLP width and model width
# near 25 % and 50 % of the parameters and gives each pruned model the depth study's three
# recoveries. Each comparison needs its own control. For distillation it is **plain
# fine-tuning** of the same pruned model on the same bytes: the same start, the same data,
# only the teacher missing. **From scratch** answers another question, what the pruned weights
# are worth. For the activation ranking it is **random units**: the same number removed at
# random (three seeds, before any recovery); a score earns its keep only if it beats that.

# %%
width = json.loads(pl.saved_result("llm_width.json").read_text())
rows = width["rows"] + width["depth_rows"]
print(
    f"{'':>11} {'removed':>7} {'pruned':>7} {'random':>7} {'distilled':>9} {'fine-tuned':>10} "
    f"{'scratch':>7}"
)
for r in rows:
    control = f"{statistics.fmean(r['random']):7.2f}" if "random" in r else f"{'-':>7}"
    print(
        f"{r['kind']:>11} {r['removed_share']:7.0%} {r['pruned']:7.2f} {control} "
        f"{r['distilled']:9.2f} {r['fine_tuned']:10.2f} {r['scratch']:7.2f}"
    )


def named(some):
    return ", ".join(f"{r['kind']} {r['removed_share']:.0%}" for r in some) or "none"


def gaps(some):
    return (
        ", ".join(
            f"{r['kind']} {r['removed_share']:.0%} by {abs(r['distilled'] - r['fine_tuned']):.3f}"
            for r in some
        )
        or "none"
    )


distil_lower = [r for r in rows if r["distilled"] < r["fine_tuned"]]
tune_lower = [r for r in rows if r["fine_tuned"] < r["distilled"]]
seeds = len(width["seeds"])
print(
    f"\nEach recovery: {width['tokens']:,} bytes, "
    + (f"mean of {seeds} seeds." if seeds > 1 else "one seed (no spread measured).")
    + f" Distillation lower than plain fine-tuning in {len(distil_lower)} of {len(rows)} rows "
    f"({gaps(distil_lower)}); fine-tuning lower in {len(tune_lower)} ({gaps(tune_lower)})"
)
scratch = [r["scratch"] for r in rows]
print(
    f"from scratch: {min(scratch):.2f}-{max(scratch):.2f}, against {width['unigram']:.2f} for "
    f"the unigram model (byte frequencies alone) and {width['dense']:.2f} dense"
)
ranked = [r for r in width["rows"] if r["pruned"] < min(r["random"])]
worse = [r for r in width["rows"] if r["pruned"] > max(r["random"])]
below = [
    r for r in width["rows"] if statistics.fmean(r["random"]) < r["pruned"] <= max(r["random"])
]
print(
    f"the activation ranking beats all three random choices in {len(ranked)} of "
    f"{len(width['rows'])} width rows ({named(ranked)})"
)
for r in worse:
    print(
        f"worse than chance, worse than every random choice: {r['kind']} at "
        f"{r['removed_share']:.0%} of the parameters ({r['pruned']:.2f} against random "
        f"{min(r['random']):.2f}-{max(r['random']):.2f})"
    )
for r in below:
    print(
        f"worse than the random mean, not than every choice: {r['kind']} at "
        f"{r['removed_share']:.0%} ({r['pruned']:.2f} against random "
        f"{min(r['random']):.2f}-{max(r['random']):.2f})"
    )

# %% [markdown]
# How to read this table. The from-scratch column sits near the unigram perplexity printed
# above: on so few bytes a fresh model learns little more than byte frequencies, so "every
# recovery beats from scratch" says only that the pruned weights are worth keeping. Whether
# the teacher helps is the comparison of distillation with plain fine-tuning, and a difference
# smaller than what another seed could change is not a difference (the recovery study below
# measures that spread for unstructured pruning). The random control is measured
# before any recovery: it says how well the ranking chose, not what recovery makes of a random
# choice. Where the ranking did worse than every random choice (printed above: model width),
# it chose worse than chance: the channels of the residual stream with the smallest
# activations are not the ones this model can spare.
#
# Where did the activation ranking beat chance, and where not? A score can only separate
# units whose activations differ. `llm.width_scores` returns the scores the pruners rank; here
# is how far the largest stands above the median within each block, for each kind of unit:

# %%
for kind in ("heads", "mlp", "model"):
    scores = llm.width_scores(model, calibration, kind)
    ratio = sum(float(s.max() / s.median()) for s in scores.values()) / len(scores)
    print(f"{kind:>5}: largest score {ratio:4.1f}x the median (mean over {len(scores)} groups)")

# %% [markdown]
# **Recovery at an equal budget: fine-tuning, distillation, LoRA.** After unstructured
# pruning the model keeps its shape, so three cheap repairs are open, and the saved study
# `benchmarks/bench_llm_recovery.py` gives each the same steps and bytes: plain fine-tuning of
# every kept weight on the next-byte loss; distillation from the dense model; and **LoRA**
# (Hu et al. 2022, through the `peft` library): the pruned weights frozen, small low-rank
# adapters trained beside them, which is how LLM-Pruner recovers. Merging the adapters into
# the weights for deployment is the catch the last row shows.

# %%
recovery = json.loads(pl.saved_result("llm_recovery.json").read_text())
print(
    f"Wanda {recovery['amount']:.0%}: perplexity {recovery['dense']:.3f} dense -> "
    f"{recovery['pruned']:.3f} pruned ({recovery['sparsity']:.1%} of the projection weights "
    f"zero); each recovery: {recovery['steps']} steps, {recovery['tokens']:,} bytes"
)
recovered = {}
for name in ("fine-tuning", "distillation", "LoRA"):
    values = recovery[name]
    recovered[name] = statistics.fmean(values)
    trained = recovery["LoRA trainable"] if name == "LoRA" else recovery["parameters"]
    print(
        f"  + {name:12s} {recovered[name]:.3f} (+- {statistics.pstdev(values):.3f} over "
        f"{len(values)} orders of the windows), {trained:,} parameters trained"
    )
merged = statistics.fmean(recovery["LoRA merged sparsity"])
print(
    f"lowest perplexity first: {' < '.join(sorted(recovered, key=recovered.get))}; merging the "
    f"LoRA adapters leaves {merged:.1%} of the projection weights zero (was "
    f"{recovery['sparsity']:.1%}), so a merged LoRA model is dense again unless its update "
    "is masked"
)

# %% [markdown]
# ### SliceGPT: rotate, then slice the embedding dimension
#
# Model width above removed channels of the residual stream, ranked by their activations, and
# lost badly without recovery. **SliceGPT** (Ashkboos et al. 2024) also makes the residual
# stream narrower, but it removes *directions* instead of channels. It rests on an invariance
# of pre-norm transformers. Fold each RMSNorm's scale into the linear layers that read it
# (`W <- W diag(alpha)`); the norm is then `x / rms(x)`, and an orthogonal `Q` does not change
# a vector's length, so `norm(x Q) = norm(x) Q`. Rotating the whole stream, `x -> x Q`, is then
# exact: the embedding becomes `E Q`, every layer that reads the stream `W Q` (input side:
# `q/k/v_proj`, `gate/up_proj`, `lm_head`), every layer that writes to it `Q^T W` (output
# side: `o_proj`, `down_proj`). Choose `Q` as the principal directions of the stream on
# calibration text (a PCA) and the last columns carry the least signal: delete them, and
# with them rows of the embedding and the writers and columns of the readers. Every matrix is
# smaller and stays dense, so it is faster on any hardware.
#
# The paper computes one `Q` per block and puts `Q_l^T Q_(l+1)` on the residual shortcuts
# between them. `llm.slice_model` uses **one global `Q`** for the whole stream, from the
# normalised stream at every norm's input pooled over the blocks, so the sliced model is an
# ordinary `TinyLlama` with a smaller `dim` (its norms still divide by the original width).
# First the invariance, then 10, 20 and 30 % of the 128 dimensions sliced, with no recovery:

# %%
pca_values, pca_q = llm.residual_pca(model, calibration)
rotate = llm.slicegpt.rotate  # fold the norms, then turn the stream by the columns of a matrix
with torch.no_grad():
    turned = (rotate(model, pca_q)(calibration[:2]) - model(calibration[:2])).abs().max()
print(f"rotated, not sliced: largest change of a logit {turned:.1e} (float32 rounding)")
energy = pca_values / pca_values.sum()
channel_energy = (pca_q.pow(2) * pca_values).sum(1).sort(descending=True).values
channel_energy = channel_energy / channel_energy.sum()
sliced_live = {}
for share in (0.1, 0.2, 0.3):
    kept = model.config.dim - round(share * model.config.dim)
    sliced = rotate(model, pca_q[:, :kept])
    sliced_live[share] = llm.perplexity(sliced, test)
    print(
        f"{share:.0%} sliced: dim {kept}, {pl.count_parameters(sliced):,} parameters "
        f"({pl.count_parameters(sliced) / pl.count_parameters(model):.0%}), perplexity "
        f"{sliced_live[share]:.3f} (dense {dense:.3f}); the top {kept} directions hold "
        f"{energy[:kept].sum():.2%} of the stream's energy, the top {kept} channels "
        f"{channel_energy[:kept].sum():.2%}"
    )
one_call = llm.slice_model(model, calibration, 0.3)  # PCA, rotation and slicing in one call
same = all(torch.equal(v, sliced.state_dict()[k]) for k, v in one_call.state_dict().items())
print(f"llm.slice_model(model, calibration, 0.3) gives the same model: {same}")

# %% [markdown]
# The saved study `benchmarks/bench_llm_slicegpt.py` slices 10 to 50 % over three calibration
# samples on the longer test slice and, as a control with exactly the same shape, removes the
# same number of residual channels with `llm.prune_model_width` (activation ranking), both
# without recovery:

# %%
slicing = json.loads(pl.saved_result("llm_slicegpt.json").read_text())
for share, r in slicing["rows"].items():
    print(
        f"{share} of dim sliced ({r['parameters'] / slicing['parameters']:.0%} of the "
        f"parameters left): SliceGPT {statistics.fmean(r['slicegpt']):.3f}, model width "
        f"{statistics.fmean(r['width']):.2f} (dense {slicing['dense']:.3f})"
    )
slice_wins = [s for s, r in slicing["rows"].items() if max(r["slicegpt"]) < min(r["width"])]
half = slicing["rows"]["50%"]
print(
    f"SliceGPT beats the same shape made by channel removal at {len(slice_wins)} of "
    f"{len(slicing['rows'])} levels; half the dimensions sliced cost "
    f"{statistics.fmean(half['slicegpt']) - slicing['dense']:+.3f} perplexity, with "
    f"{statistics.fmean(half['energy']):.2%} of the energy kept"
)

# %% [markdown]
# On this model the residual stream is nearly low-rank: at every level above, the kept
# directions hold more than 99.8 % of its energy, while as many channels hold far less,
# because each direction is spread over many channels. Removing channels cuts into every
# direction; rotating first lines the directions up with the axes, so slicing removes only
# what the stream barely uses. It also fits the width study's finding that ranking channels
# did worse than chance for model width: when every direction is spread over many channels,
# no channel is clearly the one to spare. The paper measured SliceGPT at scale: up to 25 % of
# the parameters (embeddings included) removed from LLaMA-2 70B, OPT 66B and Phi-2, keeping
# 99 %, 99 % and 90 % of their zero-shot task accuracy, with recovery fine-tuning as an
# optional further step. How compressible a stream is depends on the model, so this small
# model's nearly free 50 % says little about a large one: measure on your model, and on
# downstream tasks as well as perplexity.

# %% [markdown]
# ## 6 · Where speed comes from
#
# One linear layer, timed on this CPU: at **batch 1** (one token at a time, as when an LLM
# writes its answer) the layer must read every weight to do two operations with it, so it is
# limited by memory; at **batch 256** (a prompt, or many users) it is limited by arithmetic.
# Zeros kept in a dense matrix change neither. A compressed format (CSR) pays for its
# indices. Removing half the rows (width pruning) halves both.

# %%
rows = llm.speed.linear_timings(features=2048, rounds=3, repeat=3)
for row in rows:
    print(
        f"batch {row['batch']:>3}  {row['variant']:<28} {row['seconds'] * 1e3:8.3f} ms  "
        f"{row['speedup']:.2f}x dense"
    )

# %% [markdown]
# The other helper processes on a shared machine make single timings noisy; the variants
# alternate, so the *ratios* are what to read. The saved study with more rounds:
# `benchmarks/results/llm_speed.md`.
#
# **2:4 on a GPU.** NVIDIA's sparse tensor cores (compute capability 8.0, Ampere, and newer)
# run a 2:4 matrix multiply at up to twice the dense math throughput; PyTorch reaches them
# through `torch.sparse.to_sparse_semi_structured` (cuSPARSELt or CUTLASS kernels). "Up to 2x"
# is the arithmetic peak. Measured kernels on large matrix multiplies reach roughly 1.3-1.8x,
# and a whole model less, since attention, norms and the rest stay dense. Where 2:4 pays
# depends on the phase: **prefill** (the prompt, many tokens at once) is a large,
# compute-bound matrix multiply, the case the sparse cores speed up; **decoding** at batch 1
# is memory-bound (every weight is read for one token), and 2:4 only saves bytes there: half
# the values plus a small index per kept value, so well under 2x. This cell runs it where it
# can and says why not where it cannot:

# %%
reason, gpu = llm.speed.semi_structured_timing()
if gpu is None:
    print(f"skipped: {reason}")
else:
    print(
        f"dense {gpu['dense'] * 1e3:.3f} ms, 2:4 {gpu['2:4'] * 1e3:.3f} ms: {gpu['speedup']:.2f}x"
    )

# %% [markdown]
# **With quantization.** Sparsity and fewer bits multiply: torchao combines 2:4 with int8
# dynamic quantization and with int4 weight-only quantization on recent NVIDIA GPUs, and
# SparseGPT can prune and quantize (GPTQ-style) in one pass. The usual order is prune, recover
# with distillation, quantize last. Sources and details: `benchmarks/results/llm_speed.md`.
#
# ## 7 · Explore
#
# Pick the sparsity (or 2:4), the method and the number of calibration sequences; the
# perplexity of the pruned copy on the test slice appears below. Pruning takes up to several
# seconds (SparseGPT on 64 sequences the longest), so every setting the explorer offers was
# measured once with the same code by `benchmarks/bench_llm_explorer.py`, and the slider looks
# the result up (`benchmarks/results/llm_explorer.json`; a setting it lacks is measured when
# you pick it). The next cell measures the explorer's opening setting live, for readers
# without a kernel and as a check on the table.

# %% tags=["nbval-ignore-output"]
llm_explorer(model, test, corpus.train, dense=dense)

# %%
print(pruned_perplexity(model, test, corpus.train, *DEFAULT, dense=dense))

# %% [markdown]
# ## 8 · Your own model
#
# The same pruners take any decoder-only `transformers` causal LM (Llama, Qwen, Mistral, Gemma,
# Phi, OPT, GPT-2, GPT-NeoX, Falcon...): `llm.find_decoder` finds its blocks, embedding and
# head whatever they are called, each block gets the arguments the model itself passes it,
# and every linear layer inside the blocks is pruned, in place, one block at a time
# (`device="cuda"` runs each block on the GPU while the others stay in CPU memory). Here on a
# random-weight Qwen2 built from a config, so nothing is downloaded:

# %%
import tempfile

import transformers

transformers.logging.set_verbosity_error()
config = transformers.Qwen2Config(
    vocab_size=256,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
)
torch.manual_seed(0)
qwen = transformers.Qwen2ForCausalLM(config).eval()
parts = llm.find_decoder(qwen)
print(f"{parts.model_class}: blocks at {parts.blocks_name}, {len(parts.all_layers())} layers")
ids = llm.calibration_batches(corpus.train, 8, 64, seed=0)
llm.sparsegpt_prune(qwen, ids, n_m=(2, 4))
weights = [m.weight for m in parts.all_layers().values()]
print("every block layer 2:4:", all(pl.is_nm_sparse(w, 2, 4) for w in weights))
with tempfile.TemporaryDirectory() as folder:
    qwen.save_pretrained(folder)
    back = transformers.AutoModelForCausalLM.from_pretrained(folder)
    saved = back.state_dict()
    same = all(torch.equal(v, saved[k]) for k, v in qwen.state_dict().items())
print("save_pretrained / from_pretrained keeps the zeros:", same)

# %% [markdown]
# With a real checkpoint in a local folder (config, weights, tokenizer), the command line does
# the whole job offline: calibration windows from your text, perplexity on its held-out tail
# before and after, a progress bar per block, the pruned model saved with `save_pretrained`:
#
# ```bash
# pruning-lessons llm ./Qwen2.5-0.5B --method sparsegpt --n-m 2:4 \
#     --calibration my_text.txt --out ./qwen-2-4
# ```
#
# Here it runs on this lesson's model, saved as a `LlamaForCausalLM` folder
# (`llm.to_transformers`) with a tokenizer whose ids are bytes:

# %%
from pruning_lessons.__main__ import main

with tempfile.TemporaryDirectory() as work:
    llm.to_transformers(model).save_pretrained(f"{work}/model")
    llm.byte_tokenizer().save_pretrained(f"{work}/model")
    text = bytes(corpus.test[:60_000].tolist()).decode("utf-8", errors="replace")
    with open(f"{work}/text.txt", "w", encoding="utf-8") as f:
        f.write(text)
    main(
        [
            "llm",
            f"{work}/model",
            "--method",
            "wanda",
            "--sparsity",
            "0.5",
            "--calibration",
            f"{work}/text.txt",
            "--out",
            f"{work}/pruned",
            "--samples",
            "16",
        ]
    )

# %% [markdown]
# ## Check yourself
#
# 1. Wanda and magnitude pruning keep the same number of weights in every row. What makes
#    Wanda's choice different, and when would the two choose the same weights?
# 2. Why does SparseGPT need the Hessian `X^T X` while Wanda needs only `||X_j||`, the square
#    roots of its diagonal?
# 3. A 50 % unstructured model is no faster on your laptop. Which two changes would make it
#    faster, and on what hardware?
# 4. Why are calibration activations passed through the already pruned blocks, and not taken
#    from the dense model once?
# 5. On this model Wanda is slightly worse than row magnitude overall. Does that contradict
#    the paper?
# 6. OWL made every method worse on this model, at every target. What does OWL assume about
#    a model, and what in the saved study shows the assumption fails here?
# 7. SliceGPT and model-width pruning both leave a model with a narrower residual stream, of
#    exactly the same shape. Why can SliceGPT's be so much better without any recovery?
#
# <details><summary>Answers</summary>
#
# 1. Wanda multiplies each `|W_ij|` by the norm of the input feature it reads, so a small
#    weight on a large input can outrank a large weight on a small one. If all input norms of
#    a layer were equal, the factor would be the same across each row and the two masks would
#    be identical.
# 2. SparseGPT updates the kept weights to cancel each removal, and the best update depends on
#    how the inputs are correlated: the off-diagonal entries of `X^T X`. Wanda never updates a
#    weight; it only ranks them, and with a diagonal `H` OBS's ranking of a row reduces to
#    `|W_ij| * ||X_j||`, which needs only the diagonal.
# 3. Remove structure (heads, MLP width, blocks), which makes the dense matrices smaller on
#    any device; or use 2:4 on an NVIDIA GPU with sparse tensor cores (Ampere or newer), where
#    large compute-bound multiplies run faster. (A sparse format on a CPU pays only at very
#    high sparsity.)
# 4. Each block should be fitted to the inputs it will receive in the pruned model. Once the
#    earlier blocks are pruned their outputs change, and statistics taken from the dense model
#    would describe inputs that no longer occur.
# 5. No. Wanda's score differs from row magnitude's only where the input norms differ across
#    features; in this model only `down_proj` has a large spread, and the per-projection
#    study (section 4) finds gains and losses of a few thousandths per kind that do not add
#    up to a win. Large models have strong outlier features in many layers, which is where
#    the paper's gap comes from (and the paper's magnitude baseline is per-layer).
# 6. That the blocks differ in how many outlier scores they hold, and that the blocks with
#    more are the fragile ones. Here the outlier ratios differ by a fraction of a percentage
#    point, a wider band (larger `lambda`) hurts more, and the reversed rule, which prunes the
#    outlier-rich blocks more, beat uniform: the signal is weak and points the wrong way.
# 7. Rotation by an orthogonal `Q` leaves the function unchanged once the norms' scales are
#    folded into the layers that read them, so slicing loses only what the discarded
#    directions carry; PCA puts the stream's energy in the first directions. Channel removal
#    deletes axes, and each axis carries a part of every direction.
#
# </details>

# %% [markdown]
# <!-- model-answer -->
# ## 60-second answer · 60 秒回答
#
# **60-second answer** (as you would say it in an interview): *How do you prune a large
# language model, and what does it buy?*
#
# > "A large model cannot be retrained after every step, so I prune once after training from a
# > little calibration text, block by block. Wanda scores each weight by its magnitude times
# > the norm of its input feature, within each output row, with no update; SparseGPT is an
# > approximate Optimal Brain Surgeon that also updates the kept weights, made cheap by one
# > shared column order. Plain magnitude fails on large models because of outlier features;
# > where the inputs have none, as in most layers of a small model, Wanda gains little or
# > nothing over row magnitude, and OWL, which prunes the layers with more outliers less, can
# > even hurt. What it buys depends on the pattern. 50 % unstructured costs little
# > perplexity but is no faster on dense hardware and saves memory only in a sparse format. 2:4
# > runs on sparse tensor cores of Ampere-or-newer GPUs: up to 2x on the arithmetic, more like
# > 1.3-1.8x on large matrix multiplies, little in memory-bound batch-1 decoding, and one-shot
# > it costs a lot (LLaMA-7B: 11.0-11.5 perplexity against 5.68 dense). Removing heads, MLP
# > width or blocks makes the model faster everywhere but needs recovery: fine-tuning,
# > distillation from the dense model or LoRA, compared at an equal budget (a merged LoRA
# > update is dense, so it undoes unstructured sparsity). SliceGPT narrows the model without
# > retraining: it rotates the residual stream onto its principal directions, which changes
# > nothing, and slices off the weakest ones. I judge by perplexity and downstream
# > tasks, measure latency at the real batch size, and quantize last."
#
# **60 秒回答**（面试时可以这样说）：*如何剪枝大语言模型？能换来什么？*
#
# > “大模型无法在每一步剪枝后都重新训练，所以我在训练后用少量校准文本一次性剪枝，逐个 Transformer 块进行。Wanda 在每个输出行内用权重幅值乘以对应输入特征的范数打分，不更新权重；SparseGPT 是近似的最优脑外科方法，还会更新保留的权重，靠所有行共用同一个列顺序来降低代价。在大模型上单纯的幅值剪枝会失败，原因是离群特征；如果输入没有离群特征（比如小模型的大多数层），Wanda 相比逐行幅值剪枝几乎没有优势，而 OWL（让离群值多的层剪得少一些）甚至可能更差。能换来什么取决于稀疏模式：50% 非结构化稀疏的困惑度代价小，但在稠密计算的硬件上不会变快，只有用稀疏格式存储才省内存；2:4 可以在 Ampere 及更新 GPU 的稀疏张量核心上运行，算术上最多 2 倍，大矩阵乘法上实际约 1.3 到 1.8 倍，在受内存带宽限制的批大小为 1 的解码中收益很小，而且一次性剪成 2:4 代价很大（LLaMA-7B 困惑度 11.0 到 11.5，稠密模型为 5.68）。去掉注意力头、MLP 宽度或整个块能让模型在所有设备上变快，但需要恢复：微调、用稠密模型做蒸馏或 LoRA，要在相同预算下比较（合并后的 LoRA 更新是稠密的，会抵消非结构化稀疏）。SliceGPT 不用重新训练就能让模型变窄：先把残差流旋转到它的主方向上（这不改变函数），再切掉最弱的方向。我用困惑度和下游任务来评估，在实际批大小下测量延迟，最后再量化。”
