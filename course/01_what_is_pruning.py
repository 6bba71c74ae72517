# %% [markdown]
# # 01 · What is pruning, and what is it for?

# %% [markdown]
# <!-- bilingual-box -->
# > **The question** · **问题**
# >
# > **EN** What is pruning, and what is it for?
# >
# > **中文** 什么是剪枝？剪枝有什么用？
# >
# > **Three takeaways** · **三个要点**
# >
# > 1. Pruning removes the parts of a trained network that matter least, then fine-tuning recovers
# > the accuracy.
# >    <br>剪枝删除训练好的网络中最不重要的部分，再通过微调恢复准确率。
# > 2. Weight (unstructured) pruning zeroes single weights; structured pruning removes whole
# > neurons, channels or layers.
# >    <br>权重剪枝（非结构化剪枝）把单个权重置零；结构化剪枝删除整个神经元、通道或层。
# > 3. Zeros alone shrink neither the file nor the run time: you need a sparse format, or
# > structured pruning.
# >    <br>仅仅置零既不会让文件变小，也不会让推理变快：需要稀疏存储格式，或者结构化剪枝。

# %% [markdown]
# A trained neural network is mostly a big collection of numbers, its **weights**. Many of
# them end up tiny: the network barely uses them. **Pruning** removes the parts of a trained
# network that matter least, so that the network gets smaller or cheaper to run while it
# keeps (almost) all of its accuracy.
#
# In this lesson you will:
#
# 1. train a small network on handwritten digits and look at its weights,
# 2. meet the two families of pruning, *weight* and *structured*, that lessons 02-06 build on,
# 3. remove the network's smallest weights and measure what changed: parameter count,
#    non-zeros, accuracy and file size,
# 4. see how far you can go, with and without a little re-training,
# 5. list what pruning is used for, and explore the amount with a slider.

# %%
import copy
import io

import matplotlib.pyplot as plt
import torch

import pruning_lessons as pl
from pruning_lessons.teaching.plots import accuracy_curves, weight_histogram

torch.set_num_threads(1)  # the models are tiny: one thread is as fast, and steadier
data = pl.load_digits(seed=0)
pl.seed_everything(0)
model = pl.mlp()  # 64 pixels -> 300 -> 100 -> 10 digits
history = pl.fit(model, data, desc="train the MLP")
dense_accuracy = pl.evaluate(model, data.test)
print(model)
print(
    f"trained in {history.seconds:.1f} s: {dense_accuracy:.1%} of the test digits right, "
    f"{pl.count_parameters(model):,} parameters"
)

# %% [markdown]
# ## 1 · Most weights are small
#
# Here is every weight of the three layers in one histogram. Most sit in a narrow peak around
# zero: a weight near zero multiplies its input by almost nothing, so removing it should
# change the output very little. That is the bet magnitude pruning makes (Han et al. 2015,
# *Learning both Weights and Connections for Efficient Neural Networks*).

# %%
weights = torch.cat([p.detach().flatten() for p in pl.prunable_parameters(model).values()])
for limit in (0.01, 0.05, 0.1):
    share = (weights.abs() <= limit).float().mean()
    print(f"{share:.0%} of the weights have |w| <= {limit}")
weight_histogram(model)
plt.show()

# %% [markdown]
# ## 2 · Two ways to prune
#
# * **Weight (unstructured) pruning** sets individual weights to zero, wherever they are, so
#   each layer keeps its shape but becomes a matrix full of zeros.
# * **Structured pruning** removes whole pieces (a neuron, a convolution filter, a layer), so
#   the layers themselves become smaller matrices.
#
# On a toy layer (each row of its weight matrix holds one neuron's incoming weights), the two
# look like this. This cell's output is pinned by the tests:

# %% tags=["nbval-check-output"]
toy = torch.tensor(
    [
        [0.90, -0.10, 0.40, 0.05],
        [-0.20, 0.03, -0.70, 0.30],
        [0.01, 0.02, -0.04, 0.06],
    ]
)
print("weight pruning, half of the weights: keep-mask (1 = keep), same shape")
for row in pl.magnitude_mask(toy, 0.5).int().tolist():
    print("  ", row)
norms = toy.abs().sum(dim=1)
keep = norms.argsort(descending=True)[:2].sort().values
print("structured pruning, drop the neuron with the smallest L1 norm:")
print("   row norms", [round(n, 2) for n in norms.tolist()], "-> keep rows", keep.tolist())
print("   shape", tuple(toy.shape), "->", tuple(toy[keep].shape))

# %% [markdown]
# This lesson uses weight pruning, the simplest kind; lesson 02 compares it with structured
# pruning.
#
# ## 3 · Prune the smallest weights
#
# `pl.magnitude_prune(model, amount, scope="global")` sets the `amount` fraction of all the
# weights with the smallest magnitude $|w|$ to zero (biases are left alone). It works in place,
# so we prune a copy and keep the trained model for comparison.

# %%
amount = 0.9
pruned = copy.deepcopy(model)
pl.magnitude_prune(pruned, amount, scope="global")
pruned_accuracy = pl.evaluate(pruned, data.test)
print(f"pruned {amount:.0%} of the weights; accuracy {dense_accuracy:.1%} -> {pruned_accuracy:.1%}")
pl.sparsity_report(pruned, weights_only=True)

# %% [markdown]
# Global pruning ranks all weights together, so the layers lose different shares (the
# "sparsity" column): a layer with many small weights gives up more.
#
# Now measure what changed. Note what `torch.save` writes: a pruned weight is still stored
# as a full floating-point number that happens to be zero. `pl.save_sparse` stores instead one
# bit per weight (kept or not) plus the kept values.


# %%
def sparse_bytes(m: torch.nn.Module) -> int:
    buffer = io.BytesIO()
    pl.save_sparse(m, buffer)
    return buffer.getbuffer().nbytes


exported = pl.bake_masks(copy.deepcopy(pruned))  # plain tensors holding the zeros
rows = [
    ("parameters", "{:,}", pl.count_parameters(model), pl.count_parameters(pruned)),
    ("non-zero parameters", "{:,}", pl.count_nonzero(model), pl.count_nonzero(pruned)),
    ("test accuracy", "{:.1%}", dense_accuracy, pruned_accuracy),
    ("bytes, torch.save", "{:,}", pl.file_size(model), pl.file_size(exported)),
    ("bytes, save_sparse", "{:,}", sparse_bytes(model), sparse_bytes(pruned)),
]
print(f"{'':20s}{'dense':>10s}{'pruned':>10s}")
for name, style, before, after in rows:
    print(f"{name:20s}{style.format(before):>10s}{style.format(after):>10s}")
print(
    f"\nThe parameter count is unchanged and {pl.count_nonzero(pruned):,} of them are non-zero; "
    f"only the sparse format makes the file smaller, "
    f"{pl.file_size(model) / sparse_bytes(pruned):.1f}x smaller than the dense model's."
)

# %% [markdown]
# The dense model gains nothing from the sparse format: it has no masks, so every tensor is
# stored whole.
#
# The histograms show where the cut fell: everything in the shaded band went, and the pruned
# model's surviving weights have a hole around zero.

# %%
originals = pl.prunable_parameters(model)
cut = (
    torch.cat(
        [originals[name].detach().abs()[~keep] for name, keep in pl.get_masks(pruned).items()]
    )
    .max()
    .item()
)  # the largest |w| that went
figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2), layout="constrained")
weight_histogram(model, cut, ax=left)
left.set_title("before: the cut")
survivors = torch.cat([p.detach().flatten() for p in pl.prunable_parameters(pruned).values()])
right.hist(survivors[survivors != 0].numpy(), bins=120, color="#4c72b0")
right.set(xlabel="weight value", ylabel="count", title="after: the non-zero weights")
plt.show()

# %% [markdown]
# ## 4 · Re-training recovers the accuracy
#
# Removing weights changes what each neuron computes, so accuracy drops. A few epochs of
# **fine-tuning** let the surviving weights adjust. The library keeps the pruned weights at
# exactly zero during training (lesson 07 shows how), so the model stays just as sparse.

# %%
pl.fine_tune(pruned, data, desc="fine-tune")
tuned_accuracy = pl.evaluate(pruned, data.test)
print(
    f"{amount:.0%} pruned: {pruned_accuracy:.1%} right after pruning, {tuned_accuracy:.1%} "
    f"after fine-tuning (dense: {dense_accuracy:.1%}); sparsity still {pl.sparsity(pruned):.1%}"
)

# %% [markdown]
# ## 5 · How far can you go?
#
# Repeat for several amounts, with and without fine-tuning, and look at accuracy and file size
# together. `amount_effect` (from `pruning_lessons.teaching.explorers.amount`) prunes a copy and
# measures it.

# %%
from pruning_lessons.teaching.explorers.amount import amount_effect

amounts = [0.5, 0.7, 0.8, 0.9, 0.95, 0.98]
effects = [amount_effect(model, data.test, a) for a in amounts]
tuned = []
for a in amounts:
    candidate = copy.deepcopy(model)
    pl.magnitude_prune(candidate, a, scope="global")
    pl.fine_tune(candidate, data, progress=False)
    tuned.append(pl.evaluate(candidate, data.test))

figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4), layout="constrained")
accuracy_curves(
    {"pruned": (amounts, [e.accuracy for e in effects]), "pruned + fine-tuned": (amounts, tuned)},
    dense=dense_accuracy,
    ax=left,
)
percent = [100 * a for a in amounts]
right.plot(percent, [e.dense_bytes / 1e3 for e in effects], "o-", label="torch.save")
right.plot(percent, [e.sparse_bytes / 1e3 for e in effects], "o-", label="save_sparse")
right.set(xlabel="sparsity (%)", ylabel="kB on disk", ylim=(0, None))
right.legend()
plt.show()
best = max(
    (a for a, acc in zip(amounts, tuned, strict=True) if acc >= dense_accuracy - 0.01), default=None
)
if best is not None:
    print(
        f"With fine-tuning, up to {best:.0%} of the weights can go for at most one point of "
        f"accuracy on this run."
    )

# %% [markdown]
# The pattern is typical: a large share of the weights can go almost for free, then accuracy
# falls off a cliff. Fine-tuning pushes the cliff further out. On a bigger version of this
# network (LeNet-300-100 on MNIST), Han et al. (2015) removed all but a twelfth of the weights
# without losing accuracy.
#
# ## 6 · So what is pruning for?
#
# * **Smaller files** (you just measured it): less storage and download, and a model that
#   fits in the memory of a phone or a microcontroller.
# * **Less computation**: a zero weight need not be multiplied. Counting multiply-accumulate
#   operations (MACs) for one image:

# %%
example = data.test.tensors[0][:1]
dense_macs = pl.count_macs(model, example)
needed_macs = pl.count_macs(pruned, example, nonzero_only=True)
print(
    f"dense: {dense_macs:,} MACs per image; if zeros were skipped: {needed_macs:,} "
    f"({dense_macs / needed_macs:.1f}x fewer)"
)

# %% [markdown]
# * **Faster inference**, but only if the hardware or the software can skip those zeros.
#   An ordinary dense matrix product multiplies by zero just as fast as by any other number,
#   so this model is *not* faster yet. Lesson 02 shows why and how structured pruning fixes it.
# * **A model cut to a budget**: fit a parameter, compute or latency limit (lesson 03).
#
# ## 7 · Explore: move the amount
#
# Drag the slider (it recomputes when you let go): the line under it gives the non-zero
# parameters, the accuracy *without* fine-tuning and the file size both ways; the histogram
# shades the weights that go and the bars compare the two file sizes. The cell after it shows
# the same for the starting value, for readers without a live kernel.

# %% tags=["nbval-ignore-output"]
from pruning_lessons.teaching.explorers.amount import amount_explorer

amount_explorer(model, data.test, start=0.9)

# %%
print(amount_effect(model, data.test, 0.9))

# %% [markdown]
# ## Exercise: the compression ratio
#
# Papers state how much a model was compressed as a **compression ratio**: all parameters
# divided by the non-zero ones (ShrinkBench counts every parameter, biases included). Write it
# below, then run the check. `ex1.hint(1)` to `ex1.hint(3)` help; `ex1.solution()` shows one
# answer.

# %%
from pruning_lessons.teaching.exercises.lessons import lesson01 as ex1


# %% exercise="01.ex1"
def compression_ratio(model) -> float:
    """All parameters / non-zero parameters; float('inf') when every parameter is zero."""
    ### BEGIN SOLUTION
    total = sum(p.numel() for p in model.parameters())
    nonzero = sum(int(torch.count_nonzero(p)) for p in model.parameters())
    return total / nonzero if nonzero else float("inf")
    ### END SOLUTION


# %%
ex1.check(compression_ratio)

# %%
compression_ratio = ex1.use(compression_ratio)
library = pl.count_parameters(pruned) / pl.count_nonzero(pruned)
print(
    f"dense model {compression_ratio(model):.2f}x, pruned model {compression_ratio(pruned):.2f}x "
    f"({ex1.in_use(compression_ratio)} function; the library's counts give {library:.2f}x)"
)


# %% [markdown]
# <!-- model-answer -->
# ## 60-second answer · 60 秒回答
#
# **60-second answer** (as you would say it in an interview)
#
# > *"Pruning removes the parts of a trained network that contribute least, to make it
# > smaller or cheaper while keeping its accuracy. The classic criterion is magnitude: weights
# > close to zero are set to zero, then the network is fine-tuned so the remaining weights
# > compensate. There are two granularities. Weight, or unstructured, pruning zeroes
# > individual weights: it can remove a large share of them with little accuracy loss, and
# > it shrinks the model on disk if you store it in a sparse format, but dense kernels do
# > not run it faster. Structured pruning removes whole neurons, channels or layers, so the
# > matrices really get smaller and inference gets faster on ordinary hardware, at a higher
# > accuracy cost for the same number of removed parameters. It is used for compression,
# > faster and cheaper inference, and fitting a model to a device's budget."*
#
# **60 秒回答**（面试时可以这样说）
#
# > “剪枝是把训练好的网络中贡献最小的部分删掉，让模型更小或更省计算，同时保持准确率。最经典的准则是幅值：把接近零的权重置零，再微调，让剩下的权重补偿损失。剪枝有两种粒度。权重剪枝（非结构化剪枝）把单个权重置零：可以删掉很大一部分权重而几乎不损失准确率，用稀疏格式存储时文件也会变小，但按稠密方式计算的普通硬件和算子并不会因此跑得更快。结构化剪枝删除整个神经元、通道或层，矩阵真的变小，在普通硬件上推理也更快，但删除同样多的参数时准确率损失更大。剪枝用于模型压缩、更快更省的推理，以及把模型裁剪到设备的预算之内。”

# %% [markdown]
# ## Check yourself
#
# <details><summary>1. You prune most of a model's weights with PyTorch and save it with
# <code>torch.save</code>. Why is the file the same size?</summary>
#
# The pruned weights are still stored, as ordinary floating-point zeros: the tensors keep
# their shapes. Only a sparse format (indices or a bitmask plus the kept values) or structured
# pruning, which makes the tensors smaller, reduces the file.
# </details>
#
# <details><summary>2. Define weight pruning and structured pruning in one sentence
# each.</summary>
#
# Weight pruning sets individual weights to zero and keeps every layer's shape; structured
# pruning removes whole neurons, filters or layers so that the layers become smaller.
# </details>
#
# <details><summary>3. Why fine-tune after pruning?</summary>
#
# Removing weights changes what every neuron downstream receives, so accuracy drops. A short
# re-training, with the pruned weights held at zero, lets the survivors adjust and recovers
# most of the accuracy, which allows more pruning for the same accuracy.
# </details>
#
# <details><summary>4. Why is magnitude a sensible first criterion?</summary>
#
# A weight's contribution to a neuron's input is the weight times its input; with inputs of
# similar size, a weight near zero contributes almost nothing, so removing it changes the
# output least. It is cheap (no data or gradients needed) and a strong baseline, though it
# ignores how large the inputs are and how weights interact.
# </details>
#
# <details><summary>5. The pruned model has far fewer non-zero weights. Is it faster? What
# would make it faster?</summary>
#
# Not on ordinary dense hardware: a dense matrix product does the same work whether the
# entries are zero or not. It gets faster with structured pruning (smaller matrices), with
# patterns that hardware supports (such as 2 zeros in every 4 weights on recent GPUs), or with
# sparse kernels at very high sparsity.
# </details>
