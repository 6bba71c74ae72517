# %% [markdown]
# # 02 · How do structured pruning and weight pruning differ?

# %% [markdown]
# <!-- bilingual-box -->
# > **The question** · **问题**
# >
# > **EN** How do structured pruning and weight pruning differ?
# >
# > **中文** 结构化剪枝和权重剪枝有什么区别？
# >
# > **Three takeaways** · **三个要点**
# >
# > 1. At the same parameter budget, weight pruning usually keeps more accuracy: its choice is
# > finer.
# >    <br>在相同的参数预算下，权重剪枝通常保留更高的准确率，因为它的粒度更细。
# > 2. A dense kernel multiplies zeros like any other number, so weight pruning buys no speed on
# > ordinary hardware.
# >    <br>稠密算子对零和其他数一样做乘法，所以在普通硬件上，权重剪枝换不来加速。
# > 3. Structured pruning makes the matrices smaller, so the same dense kernels do less work and
# > run faster.
# >    <br>结构化剪枝让矩阵本身变小，同样的稠密算子计算量更少，速度更快。

# %% [markdown]
# Lesson 01 set the smallest *weights* to zero. That is **weight** (unstructured) pruning:
# the finest granularity, any single weight can go. **Structured** pruning removes whole
# *units* instead: a neuron of a fully connected layer (a row of its weight matrix, and the
# matching column of the next layer), a filter of a convolution, or an entire layer.
#
# Here you prune the same trained network both ways **to the same parameter budget** and
# compare what you get: the sparsity pattern, the accuracy, the file size and, above all, the
# speed. Then you will see *why* the zeros of weight pruning buy no speed on ordinary
# hardware, and why smaller matrices do.

# %%
import copy
import io

import matplotlib.pyplot as plt
import torch
from torch.utils import benchmark

import pruning_lessons as pl
from pruning_lessons.teaching.explorers.granularity import unit_keep_masks
from pruning_lessons.teaching.explorers.timing import side_by_side_ms
from pruning_lessons.teaching.narrate import one_image, speedup_verdict
from pruning_lessons.teaching.plots import bars, mask_heatmap

torch.set_num_threads(1)  # the models are tiny: one thread is as fast, and steadier
data = pl.load_digits(seed=0)
example = data.test.tensors[0][:1]
pl.seed_everything(0)
model = pl.mlp()  # 64 -> 300 -> 100 -> 10
pl.fit(model, data, desc="train the MLP")
dense_accuracy = pl.evaluate(model, data.test)
print(f"dense: {dense_accuracy:.1%} test accuracy, {pl.count_parameters(model):,} parameters")

# %% [markdown]
# ## 1 · One budget, two ways
#
# **Structured:** `pl.prune_units(model, 0.5)` removes half of the neurons of every hidden
# layer (those whose incoming weights have the smallest L1 norm, as in Li et al. 2017) and
# returns a new, smaller model. The output layer keeps one output per digit.
#
# **Weight pruning:** to make the comparison fair, we zero exactly as many of the smallest
# weights (globally) as it takes to leave the *same number* of non-zero parameters. Biases
# are not pruned, so the count is done on the weights. This cell's output depends only on the
# layer shapes, so it is pinned by the tests:

# %% tags=["nbval-check-output"]
fraction = 0.5
smaller = pl.prune_units(model, fraction)
budget = pl.count_parameters(smaller)
weights = sum(p.numel() for p in pl.prunable_parameters(model).values())
others = pl.count_parameters(model) - weights  # biases: they stay
weight_amount = (weights - (budget - others)) / weights
print(f"structured: {pl.count_parameters(model):,} -> {budget:,} parameters")
print({name: tuple(p.shape) for name, p in smaller.named_parameters() if name.endswith("weight")})
print(f"weight pruning: zero {weights - (budget - others):,} of {weights:,} weights")
print(f"                = an amount of {weight_amount:.2%}")

# %%
zeroed = copy.deepcopy(model)
pl.magnitude_prune(zeroed, weight_amount, scope="global")
print(f"non-zero parameters: weight-pruned {pl.count_nonzero(zeroed):,}, structured {budget:,}")

# %% [markdown]
# ## 2 · The sparsity pattern
#
# A keep-mask drawn as a picture: dark = kept, light = removed. For structured pruning we
# draw, on the *original* weight matrices, what was removed (`unit_keep_masks`): a removed
# neuron of `fc1` is a row of `fc1` **and** a column of `fc2`.

# %%
weight_masks = pl.get_masks(zeroed)
unit_masks = unit_keep_masks(model, fraction)
figure, axes = plt.subplots(2, 2, figsize=(10, 6), layout="constrained")
for row, (how, masks) in enumerate([("weight pruning", weight_masks), ("structured", unit_masks)]):
    for col, name in enumerate(["fc1.weight", "fc2.weight"]):
        kept = masks[name].float().mean()
        mask_heatmap(masks[name], ax=axes[row, col], title=f"{how}: {name}, {kept:.0%} kept")
plt.show()

# %% [markdown]
# Weight pruning leaves a scattered pattern: every row and every column keeps *some* weights,
# so no row can be dropped and the matrices keep their full size. Structured pruning removes
# whole stripes, and a stripe that is gone can be cut out: the matrices shrink.
#
# ## 3 · Accuracy
#
# At the same budget, weight pruning is usually more accurate: it may keep the best weights
# wherever they are, while structured pruning must throw away a neuron's strong weights along
# with its weak ones. A few epochs of fine-tuning narrow the gap.

# %%
accuracy = {
    "weight-pruned": pl.evaluate(zeroed, data.test),
    "structured": pl.evaluate(smaller, data.test),
}
for name, pruned in [("weight-pruned", zeroed), ("structured", smaller)]:
    pl.fine_tune(pruned, data, desc=f"fine-tune {name}")
    print(
        f"{name:14s} {accuracy[name]:.1%} right after pruning, "
        f"{pl.evaluate(pruned, data.test):.1%} after fine-tuning (dense {dense_accuracy:.1%})"
    )

# %% [markdown]
# ## 4 · Speed and file size
#
# Now the part that matters in production. The latencies are measured right now, on this
# machine: one forward pass of a batch of images on one thread. `side_by_side_ms` times the
# models in alternating rounds, so that other programs running on the machine disturb all of
# them alike, and keeps each model's fastest round (a disturbance can only add time). The
# weight-pruned model is timed as you would export it, with its masks baked into plain
# tensors.

# %%
exported = pl.bake_masks(copy.deepcopy(zeroed))
candidates = {"dense": model, "weight-pruned": exported, "structured": smaller}
batch_size = 256
milliseconds = side_by_side_ms(candidates, example, batch_size=batch_size)
sparse_file = io.BytesIO()
pl.save_sparse(zeroed, sparse_file)
kilobytes = {
    "dense": pl.file_size(model) / 1e3,
    "weight-pruned": pl.file_size(exported) / 1e3,
    "weight-pruned,\nsparse format": sparse_file.getbuffer().nbytes / 1e3,
    "structured": pl.file_size(smaller) / 1e3,
}
figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.4), layout="constrained")
bars(milliseconds, ylabel=f"ms per batch of {batch_size}", ax=left)
bars(kilobytes, ylabel="kB on disk", ax=right)
plt.show()
speedup = {name: milliseconds["dense"] / ms for name, ms in milliseconds.items()}
dense_macs = pl.count_macs(model, example)
for name in ("weight-pruned", "structured"):
    mac_ratio = dense_macs / pl.count_macs(candidates[name], example)  # MACs a dense kernel does
    print(f"{name}: {speedup_verdict(speedup[name], mac_ratio)}")

# %% [markdown]
# The dense kernel does every multiply-add of the weight-pruned model, zeros included (its
# MAC ratio above is 1.00x), so any speed-up it shows is noise, flagged as such when it is
# large. Its file shrinks only in a sparse format. The structured model is smaller on disk as
# a plain `torch.save` and does fewer MACs, with no special format or kernel.
#
# ## 5 · Why zeros in a dense matrix buy no speed
#
# A dense matrix product (`torch.mm`, BLAS underneath) performs every multiply-add the shapes
# ask for. It never looks at the values, and checking each one for zero would cost more than
# the multiplication it saves. So a matrix full of zeros takes the same time as any other.
#
# To skip zeros, a **sparse format** such as CSR (compressed sparse row) stores only the
# non-zero values plus, for each one, its column index, and a sparse kernel walks through
# them. That is irregular memory access and extra index reading, so it pays only when almost
# everything is zero. Removing rows, instead, gives a *smaller dense* matrix: the same fast
# kernel, less work.
#
# Let us time one layer-sized product (a batch of inputs times a weight matrix) in four ways,
# for several sparsities, with the *same number of non-zero weights* in the last three:

# %%
import warnings

warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
size, batch = 512, 256
generator = torch.Generator().manual_seed(0)
full = torch.randn(size, size, generator=generator)
x = torch.randn(size, batch, generator=generator)


def time_ms(fn, *args) -> float:
    timer = benchmark.Timer("fn(*args)", globals={"fn": fn, "args": args}, num_threads=1)
    return 1e3 * timer.blocked_autorange(min_run_time=0.02).median


sparsities = [0.0, 0.5, 0.8, 0.9, 0.95, 0.99]
times = {"dense with zeros": [], "CSR sparse": [], "rows removed (structured)": []}
for s in sparsities:
    with_zeros = full * (torch.rand(size, size, generator=generator) >= s)
    operands = {
        "dense with zeros": with_zeros,
        "CSR sparse": with_zeros.to_sparse_csr(),
        "rows removed (structured)": full[: max(1, round((1 - s) * size))],
    }
    best = dict.fromkeys(operands, float("inf"))
    for _ in range(3):  # alternating rounds, the fastest of each kept (as side_by_side_ms)
        for name, weight in operands.items():
            best[name] = min(best[name], time_ms(torch.mm, weight, x))
    for name, ms in best.items():
        times[name].append(ms)

figure, ax = plt.subplots(figsize=(6.5, 3.4), layout="constrained")
for name, values in times.items():
    ax.plot([100 * s for s in sparsities], values, marker="o", label=name)
ax.set(xlabel="share of zero weights (%)", ylabel="ms per product", yscale="log")
ax.set_title(f"({size} x {size} weights) x ({size} x {batch} inputs), 1 thread")
ax.legend()
plt.show()
at = sparsities.index(0.9)
dense_ms, csr_ms, rows_ms = (values[at] for values in times.values())
print(
    f"at {sparsities[at]:.0%} zeros: dense {dense_ms:.2f} ms, CSR {csr_ms:.2f} ms, "
    f"rows removed {rows_ms:.2f} ms"
)
wins = [c < d for d, c in zip(times["dense with zeros"], times["CSR sparse"], strict=True)]
from_here = [s for i, s in enumerate(sparsities) if all(wins[i:])]
print(
    f"CSR beats the dense product from {from_here[0]:.0%} zeros on, on this machine."
    if from_here
    else "CSR never beat the dense product here."
)
swing = max(times["dense with zeros"]) / min(times["dense with zeros"])
print(
    f"The dense product's time moved {swing:.2f}x from 0 % to 99 % zeros: "
    + ("the same work whatever the values." if swing < 1.5 else "more than noise; rerun the cell.")
)

# %% [markdown]
# A dense product does the same work whatever the values; CSR gets cheaper as zeros grow but
# starts far behind (the printout says where, if anywhere, it overtakes on this machine).
# Removing rows makes the product cheaper in proportion, at every sparsity.
#
# ## 6 · The trade-off: granularity, accuracy, hardware
#
# Repeat the comparison at several budgets, with fine-tuning, and plot accuracy against the
# parameters kept:

# %%
fractions = [0.3, 0.5, 0.7, 0.9]
kept, weight_acc, unit_acc = [], [], []
for f in fractions:
    structured = pl.prune_units(model, f)
    budget_f = pl.count_parameters(structured)
    zeroed_f = copy.deepcopy(model)
    pl.magnitude_prune(zeroed_f, (weights - (budget_f - others)) / weights, scope="global")
    for pruned, results in [(structured, unit_acc), (zeroed_f, weight_acc)]:
        pl.fine_tune(pruned, data, progress=False)
        results.append(pl.evaluate(pruned, data.test))
    kept.append(budget_f / pl.count_parameters(model))

figure, ax = plt.subplots(figsize=(6.5, 3.4), layout="constrained")
ax.plot([100 * k for k in kept], [100 * a for a in weight_acc], "o-", label="weight pruning")
ax.plot([100 * k for k in kept], [100 * a for a in unit_acc], "s-", label="structured")
ax.axhline(100 * dense_accuracy, color="grey", linestyle="--", label="dense")
ax.set(xlabel="parameters kept (%)", ylabel="test accuracy after fine-tuning (%)")
ax.invert_xaxis()
ax.legend()
plt.show()
for k, w, u in zip(kept, weight_acc, unit_acc, strict=True):
    print(f"{k:4.0%} of the parameters kept: weight pruning {w:.1%}, structured {u:.1%}")
ahead = sum(w > u for w, u in zip(weight_acc, unit_acc, strict=True))
print(
    f"Weight pruning comes out ahead at {ahead} of the {len(kept)} budgets in this run; "
    f"{one_image(len(data.test))}."
)

# %% [markdown]
# Single weights are the finer choice, so weight pruning is expected to keep more accuracy.
# Where the two are close, or the order flips at the smallest budget, do not read too much
# into one run: both models then need more than a few
# epochs to recover, and a fair comparison uses an equal fine-tuning budget and several seeds
# (lesson 06).
#
# Between the two extremes lie other granularities. Together they form a ladder:
#
# | unit removed | accuracy | faster on dense hardware? | what it needs |
# |---|---|---|---|
# | single weights | best | no | a sparse format; sparse kernels only at very high sparsity |
# | N:M blocks | close to single weights | with hardware support | e.g. GPUs with 2:4 support |
# | neurons, filters | lower | usually (lesson 03) | nothing: the layers just shrink |
# | whole layers | lowest | yes | input and output shapes that match |
#
# (N:M sparsity keeps at most N non-zero weights in every group of M neighbours; recent
# NVIDIA GPUs run the 2:4 pattern faster.)
#
# The coarser the unit, the more a removal costs in accuracy and the easier it is to turn into
# speed. Which one to use depends on what you want: a small download (weights), a fast model
# on a CPU or a phone (structured), or a GPU that supports N:M.
#
# ## 7 · Explore: move the budget
#
# The slider sets the share of hidden neurons removed; weight pruning is matched to the same
# number of parameters. It shows both sparsity patterns of `fc2`, the accuracy *without*
# fine-tuning and the latency of each. The cell after it prints the starting value's result.

# %% tags=["nbval-ignore-output"]
from pruning_lessons.teaching.explorers.granularity import granularity_effect, granularity_explorer

granularity_explorer(model, data.test, start=0.5)

# %%
print(granularity_effect(model, data.test, 0.5))

# %% [markdown]
# ## Exercise: an N:M keep-mask
#
# Between single weights and whole neurons sits **N:M sparsity**: in every group of M
# consecutive weights of a row, keep the N largest |w| (2:4 is what recent GPUs accelerate).
# Write the keep-mask; among equal magnitudes, prune the lower index first.

# %%
from pruning_lessons.teaching.exercises.lessons import lesson02 as ex1


# %% exercise="02.ex1"
def keep_n_of_m(weight: torch.Tensor, n: int = 2, m: int = 4) -> torch.Tensor:
    """Keep-mask: the n largest |w| of every m consecutive weights in each row of a matrix."""
    ### BEGIN SOLUTION
    rows, cols = weight.shape
    if cols % m:
        raise ValueError(f"rows of {cols} weights cannot be cut into groups of m={m}")
    groups = weight.abs().reshape(rows, cols // m, m)
    lowest = torch.argsort(groups, dim=-1, stable=True)[..., : m - n]
    keep = torch.ones_like(groups, dtype=torch.bool).scatter_(-1, lowest, False)
    return keep.reshape(rows, cols)
    ### END SOLUTION


# %%
ex1.check(keep_n_of_m)

# %%
keep_n_of_m = ex1.use(keep_n_of_m)
w = model.fc2.weight.detach()
mask = keep_n_of_m(w, 2, 4)
print(
    f"fc2 {tuple(w.shape)}: 2:4 keeps {mask.float().mean():.0%} of the weights; "
    f"same mask as pl.nm_mask: {torch.equal(mask, pl.nm_mask(w, 2, 4))}"
)


# %% [markdown]
# <!-- model-answer -->
# ## 60-second answer · 60 秒回答
#
# **60-second answer** (as you would say it in an interview)
#
# > *"Weight pruning removes individual connections: the matrices keep their shape and just
# > fill up with zeros, in an irregular pattern. It reaches the highest sparsity for a given
# > accuracy, and it shrinks the model on disk with a sparse format, but a dense matrix
# > multiply does the same work on zeros, so you only get speed with sparse kernels at very
# > high sparsity or with hardware-supported patterns such as 2:4. Structured pruning removes
# > whole neurons, channels or layers, and with them the matching inputs of the next layer,
# > so the network is genuinely smaller and usually runs faster with ordinary dense kernels
# > (lesson 03 measures full-size networks, and a case where it does not). The price is
# > accuracy: at the same parameter budget it loses more, because strong and weak weights go
# > together, so it usually needs more fine-tuning. The choice is a
# > trade-off between granularity, accuracy and what your hardware can exploit."*
#
# **60 秒回答**（面试时可以这样说）
#
# > “权重剪枝删除单个连接：矩阵保持原来的形状，只是以不规则的方式填满了零。在给定准确率下它能达到最高的稀疏度，用稀疏格式存储时模型文件也会变小；但稠密矩阵乘法对零照样计算，所以只有在稀疏度很高、使用稀疏算子时，或者使用硬件支持的模式（如 2:4）时，才能换来加速。结构化剪枝删除整个神经元、通道或层，同时删除下一层对应的输入，网络真正变小，用普通的稠密算子通常就能跑得更快（第 03 课实测了全尺寸网络，也有不加速的情形）。代价是准确率：在相同的参数预算下损失更大，因为强的和弱的权重被一起删掉，通常需要更多微调。选哪一种，是在粒度、准确率和硬件能利用什么之间的权衡。”

# %% [markdown]
# ## Check yourself
#
# <details><summary>1. A colleague zeroed most of a model's weights and is surprised that
# inference is no faster. What do you tell them?</summary>
#
# A dense matrix multiply does every multiply-add the shapes ask for, whatever the values. To
# gain speed, remove structure (neurons, channels) so the matrices shrink, use a pattern the
# hardware accelerates (N:M), or, at very high sparsity, a sparse format and sparse kernels.
# </details>
#
# <details><summary>2. Removing neuron <i>j</i> of a fully connected layer: which tensors
# change?</summary>
#
# Row <i>j</i> of the layer's weight and entry <i>j</i> of its bias, and column <i>j</i> of
# the next layer's weight (and, in a CNN, channel <i>j</i> of a BatchNorm in between).
# </details>
#
# <details><summary>3. At the same parameter budget, which is usually more accurate, and
# why?</summary>
#
# Weight pruning: it can keep the most important weights wherever they are. Structured pruning
# must remove a unit's strong weights together with its weak ones.
# </details>
#
# <details><summary>4. Why does CSR only pay off at high sparsity?</summary>
#
# It stores an index next to every kept value and its kernel reads memory irregularly, so
# each non-zero costs more than an entry of a dense product. It wins only once there are far
# fewer non-zeros than entries.
# </details>
#
# <details><summary>5. Name a granularity between single weights and whole neurons, and
# what it buys.</summary>
#
# Blocks, such as N:M sparsity (at most N non-zero weights in every group of M consecutive
# ones). It keeps most of the accuracy of weight pruning and, with 2:4 on GPUs that support
# it, gives a real speed-up.
# </details>
