# %% [markdown]
# # 03 · Where is pruning used in deep learning?

# %% [markdown]
# <!-- bilingual-box -->
# > **The question** · **问题**
# >
# > **EN** Where is pruning used in deep learning?
# >
# > **中文** 剪枝在深度学习中用在哪些地方？
# >
# > **Three takeaways** · **三个要点**
# >
# > 1. Compression, faster inference, lower energy, and fitting one trained model to each device's
# > budget.
# >    <br>四种用途：模型压缩、推理加速、降低能耗，以及把同一个训练好的模型裁剪到各个设备的预算之内。
# > 2. MACs estimate work but ignore memory-bound layers: measure latency on the target hardware.
# >    <br>MACs（乘加运算量）只能估计计算量，忽略了受内存带宽限制的层：延迟要在目标硬件上实测。
# > 3. After channel pruning, recalibrate BatchNorm statistics before judging the accuracy.
# >    <br>通道剪枝之后，先重新校准 BatchNorm 的统计量，再评价准确率。

# %% [markdown]
# Pruning is a means to an end. In practice people prune for four reasons, and this lesson
# demonstrates each one with a measurement:
#
# 1. **Model compression**: fewer bytes to store and to ship (a phone app, a browser, a
#    microcontroller, an over-the-air update).
# 2. **Faster inference**: lower latency or more requests per second on the same hardware.
# 3. **Lower energy**: less computation and memory traffic per prediction, which matters on
#    batteries and in data centres alike. Here we use MAC counts as a proxy, and see where
#    that proxy is wrong.
# 4. **Customising a model to a budget**: one trained model, cut down to fit each target
#    device's limit on parameters, compute or latency.

# %%
import copy
import io
import json
import warnings

import matplotlib.pyplot as plt
import torch
from torch.utils import benchmark

import pruning_lessons as pl
from pruning_lessons.teaching.explorers.timing import side_by_side_ms
from pruning_lessons.teaching.narrate import speedup_verdict, stale_bn_verdict
from pruning_lessons.teaching.plots import bars, budget_curve

torch.set_num_threads(1)  # the models are tiny: one thread is as fast, and steadier
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
data = pl.load_digits(seed=0)
example = data.test.tensors[0][:1]
batch_size = 256  # for every latency measurement
pl.seed_everything(0)
mlp = pl.mlp()
pl.fit(mlp, data, desc="train the MLP")
pl.seed_everything(0)
cnn = pl.cnn()
pl.fit(cnn, data, epochs=8, desc="train the CNN")
for name, m in [("MLP", mlp), ("CNN", cnn)]:
    print(
        f"{name}: {pl.evaluate(m, data.test):.1%} test accuracy, "
        f"{pl.count_parameters(m):,} parameters"
    )

# %% [markdown]
# ## 1 · Compression: bytes on disk
#
# Prune most of the MLP's weights and save it in several formats. A pruned weight matrix is
# still a full matrix of floats, so how much you save depends entirely on *how you store it*:
#
# * **dense** (`torch.save` as is): every entry, zero or not;
# * **CSR** (compressed sparse row, `torch.Tensor.to_sparse_csr`): the non-zero values, the
#   column index of each, and where each row starts;
# * **CSR, int32**: the same with smaller (`int32`) index numbers;
# * **bitmask** (`pl.save_sparse`): one bit per entry saying kept or not, plus the kept values.


# %%
def compact_csr(t: torch.Tensor, index_dtype: torch.dtype = torch.int64) -> torch.Tensor:
    """CSR copy of a matrix. (A fresh conversion's column indices share a larger buffer,
    which torch.save would write whole: cloning keeps only what CSR needs.)"""
    c = t.to_sparse_csr()
    return torch.sparse_csr_tensor(
        c.crow_indices().to(index_dtype).clone(),
        c.col_indices().to(index_dtype).clone(),
        c.values().clone(),
        c.shape,
        check_invariants=True,
    )


def file_sizes(model: torch.nn.Module) -> dict[str, int]:
    """Bytes of a weight-pruned model's state_dict in each format (biases always dense)."""
    plain = pl.bake_masks(copy.deepcopy(model)).state_dict()
    buffer = io.BytesIO()
    pl.save_sparse(model, buffer)

    def converted(convert) -> dict:
        return {k: convert(v) if v.dim() == 2 else v for k, v in plain.items()}

    return {
        "dense": pl.file_size(plain),
        "CSR": pl.file_size(converted(compact_csr)),
        "CSR, int32": pl.file_size(converted(lambda t: compact_csr(t, torch.int32))),
        "bitmask": buffer.getbuffer().nbytes,
    }


amounts = [0.0, 0.5, 0.8, 0.9, 0.95, 0.98]
sizes = []
for amount in amounts:
    pruned = copy.deepcopy(mlp)
    pl.magnitude_prune(pruned, amount, scope="global")  # amount 0: masks that keep everything
    sizes.append(file_sizes(pruned))

figure, ax = plt.subplots(figsize=(6.5, 3.4), layout="constrained")
for fmt in sizes[0]:
    ax.plot([100 * a for a in amounts], [s[fmt] / 1e3 for s in sizes], "o-", label=fmt)
ax.set(xlabel="share of weights pruned (%)", ylabel="kB on disk", ylim=(0, None))
ax.legend()
plt.show()

# %% [markdown]
# The dense file never shrinks. Each sparse format pays a price per kept value, so it wins only
# past some sparsity:

# %%
csr = compact_csr(mlp.fc2.weight.detach())
value_bytes = csr.values().element_size()
index_bytes = csr.col_indices().element_size()
print(f"dense: {value_bytes} bytes per entry, zero or not")
print(f"CSR:   {value_bytes} + {index_bytes} = {value_bytes + index_bytes} bytes per kept value")
small_index = torch.empty(0, dtype=torch.int32).element_size()
print(
    f"CSR, int32: {value_bytes} + {small_index} = {value_bytes + small_index} bytes per kept value"
)
print(f"bitmask: 1 bit per entry + {value_bytes} bytes per kept value")
at = amounts.index(0.9)
print(
    f"\nat {amounts[at]:.0%} pruned: "
    + ", ".join(f"{fmt} {sizes[0]['dense'] / b:.1f}x" for fmt, b in sizes[at].items())
    + " smaller than the dense model"
)

# %% [markdown]
# Structured pruning compresses without any special format: the matrices themselves are
# smaller, so a plain `torch.save` is smaller too, and any runtime can load it.

# %%
half = pl.prune_units(mlp, 0.5)
print(
    f"MLP with half of its hidden neurons: {pl.file_size(half):,} bytes "
    f"instead of {pl.file_size(mlp):,}, plain torch.save"
)

# %% [markdown]
# ## 2 · Faster inference
#
# Remove half of the filters of every convolution of the CNN (with their BatchNorm channels and
# the next layer's inputs: `pl.prune_units` does it all), fine-tune briefly, and time both
# models side by side on this machine (in alternating rounds, as in lesson 02).
#
# One step comes before fine-tuning. Each BatchNorm layer normalises with *running* mean and
# variance, estimated on the dense network's activations. Once the filters feeding it are gone,
# those statistics are stale, and the pruned CNN loses far more accuracy than its weights deserve
# (how much is measured below). `pl.recalibrate_bn(model, data)` re-estimates them: one pass of
# training images in train mode, no gradient step, no weight changed (the same step as
# `torch.optim.swa_utils.update_bn`). So an accuracy "right after pruning" of a BatchNorm network
# says little about the criterion unless the statistics were recalibrated first.

# %%
small_cnn = pl.prune_units(cnn, 0.5)
stale = pl.evaluate(small_cnn, data.test)
pl.recalibrate_bn(small_cnn, data)
recalibrated = pl.evaluate(small_cnn, data.test)
pl.fine_tune(small_cnn, data, epochs=3, desc="fine-tune the pruned CNN")
cnn_ms = side_by_side_ms(
    {"dense CNN": cnn, "pruned CNN": small_cnn}, example, batch_size=batch_size
)
figure, ax = plt.subplots(figsize=(4.5, 3), layout="constrained")
bars(cnn_ms, ylabel=f"ms per batch of {batch_size}", ax=ax)
plt.show()
cnn_mac_ratio = pl.count_macs(cnn, example) / pl.count_macs(small_cnn, example)
print(
    f"{speedup_verdict(cnn_ms['dense CNN'] / cnn_ms['pruned CNN'], cnn_mac_ratio)}; "
    f"parameters {pl.count_parameters(cnn):,} -> {pl.count_parameters(small_cnn):,}"
)
dense_cnn_accuracy = pl.evaluate(cnn, data.test)
print(f"right after pruning: {stale_bn_verdict(stale, recalibrated, dense_cnn_accuracy, 10)}")
print(f"after fine-tuning: {pl.evaluate(small_cnn, data.test):.1%}")
assert recalibrated >= stale, "recalibration lost accuracy: the lesson's claim fails here"

# %% [markdown]
# One measurement in a notebook is noisy. The repository's benchmark
# (`benchmarks/bench_structured.py`) times the same kind of pruning more carefully, in several
# alternating rounds, and in several *runtimes*: eager PyTorch (what this notebook does),
# `torch.compile`, and oneDNN, which folds each BatchNorm into its convolution and keeps the
# activations in a layout made for the CPU's vector units, much as CPU inference engines run a
# CNN. The benchmark reaches oneDNN through TorchScript (`torch.jit.optimize_for_inference`);
# TorchScript is deprecated, so for your own deployments export with `torch.export` (or
# compile with `torch.compile`) and hand the graph to an inference runtime. Compare each row's
# speed-up with its MAC ratio (the last number):

# %%
structured = json.loads(pl.saved_result("structured.json").read_text())
for row in structured["results"]:
    print(
        f"{row['model']} ({row['removed']}, {row['runtime']}): {row['speedup']:.2f}x faster "
        f"({row['speedup_min']:.2f}-{row['speedup_max']:.2f}), {row['mac_ratio']:.2f}x fewer "
        f"MACs, accuracy {row['accuracy_dense']:.1%} -> {row['accuracy_fine_tuned']:.1%} "
        f"after fine-tuning; speed-up / MAC ratio {row['speedup_over_mac_ratio']:.2f}"
    )
cnn_rows = [row for row in structured["results"] if row["model"] == "cnn"]
closest = max(cnn_rows, key=lambda row: row["speedup_over_mac_ratio"])
print(f"The CNN comes closest to its MAC ratio with the {closest['runtime']} runtime.")
settings = structured["settings"]
print(
    f"(batch {settings['batch']}, {settings['threads']} thread(s), "
    f"{settings['rounds']} rounds, torch {structured['machine']['torch']})"
)

# %% [markdown]
# These are small networks. The same question at full size (`benchmarks/bench_latency.py`):
# ResNet-50 and ViT-B/16 with random weights, pruned by `prune_units` at 30 % and 50 % (ResNet
# loses channels, ViT whole heads and MLP width), timed side by side with the dense model at
# batch 1 and 32, eager and frozen TorchScript, at the default thread count:

# %%
latency = json.loads(pl.saved_result("latency.json").read_text())
for row in latency["rows"]:
    for result in row["results"]:
        gains = ", ".join(
            f"{amount}: {result['seconds']['dense'] / result['seconds'][amount]:.2f}x faster "
            f"for {row['macs']['dense'] / row['macs'][amount]:.2f}x fewer MACs"
            for amount in ("30%", "50%")
        )
        print(f"{row['model']}, {result['runtime']}, batch {result['batch']}: {gains}")
speedups = {
    (row["model"], result["runtime"], result["batch"], amount): result["seconds"]["dense"]
    / result["seconds"][amount]
    for row in latency["rows"]
    for result in row["results"]
    for amount in ("30%", "50%")
}
for batch in (1, 32):
    values = [v for key, v in speedups.items() if key[2] == batch]
    print(f"batch {batch}: speed-ups from {min(values):.2f}x to {max(values):.2f}x")
mac_ratios = {
    (row["model"], amount): row["macs"]["dense"] / row["macs"][amount]
    for row in latency["rows"]
    for amount in ("30%", "50%")
}
faster = [key for key, v in speedups.items() if v > 1.0]
short = [key for key, v in speedups.items() if v < mac_ratios[key[0], key[3]]]
print(
    f"faster than dense in {len(faster)} of {len(speedups)} settings; the speed-up fell short "
    f"of the MAC ratio in {len(short)} of {len(speedups)}"
)

# %% [markdown]
# **What turns pruning into speed, in general.** The runtime decides, not the zeros:
#
# * *Smaller dense layers* (structured pruning, as above) need no special kernel or format.
#   The lines above say how much of the MAC ratio each runtime and batch turned into speed
#   at full size. Time also goes to work the MAC count does not see (memory traffic, the
#   framework's own overhead, layers left whole), so measure on your target.
# * *2:4 sparsity* runs on NVIDIA's sparse tensor cores (Ampere and newer, through
#   cuSPARSELt or CUTLASS): up to twice the arithmetic, so it pays in compute-bound work such
#   as a language model's prefill and much less in memory-bound batch-1 decoding (lesson 10).
# * *Unstructured sparsity* needs a runtime with sparse kernels: a generic CSR multiply breaks
#   even only at very high sparsity (lesson 02), but CPU engines built for it (Neural Magic's
#   DeepSparse; XNNPACK's sparse inference, after Elsen et al. 2020, "Fast Sparse ConvNets")
#   run pruned networks faster on CPUs.
# * *Latency-aware pruning* targets the measured latency instead of a proxy: NetAdapt (Yang et
#   al. 2018) shrinks one layer per step, choosing by latencies measured on the device; AMC
#   (He et al. 2018) lets a reinforcement-learning agent pick per-layer ratios under a
#   resource budget; HALP (Shen et al. 2022) allocates channels with a latency lookup table.
#   `fit_to_budget(..., measure="latency")` in section 4 is the simplest form of the idea.
# * *Fewer tokens* is another axis altogether: ToMe (Bolya et al. 2023) merges similar tokens
#   inside a vision transformer, and H2O (Zhang et al. 2023) keeps a language model's
#   key/value cache small by evicting all but the most-attended and the most recent tokens.
#   Both leave the weights alone and combine with weight pruning.

# %% [markdown]
# ## 3 · Lower energy, and why MACs are only a proxy
#
# Energy is hard to measure in a notebook, so papers count **MACs** (multiply-accumulate
# operations) instead: fewer MACs, less work, less energy. ShrinkBench (Blalock et al. 2020)
# calls the ratio *dense MACs / non-zero MACs* the *theoretical speed-up*. Let us compare it
# with what we measure, for a weight-pruned MLP and the structurally pruned CNN:

# %%
weight_pruned = copy.deepcopy(mlp)
pl.magnitude_prune(weight_pruned, 0.9, scope="global")
pl.bake_masks(weight_pruned)
cases = [
    ("MLP, 90% of weights zeroed", mlp, weight_pruned),
    ("CNN, half the filters", cnn, small_cnn),
]
print(f"{'':28s}{'dense MACs':>12s}{'needed MACs':>13s}{'MAC ratio':>11s}{'measured':>10s}")
for name, dense, pruned in cases:
    dense_macs = pl.count_macs(dense, example)
    needed = pl.count_macs(pruned, example, nonzero_only=True)
    ms = side_by_side_ms({"dense": dense, "pruned": pruned}, example, batch_size=batch_size)
    print(
        f"{name:28s}{dense_macs:>12,}{needed:>13,}{dense_macs / needed:>10.1f}x"
        f"{ms['dense'] / ms['pruned']:>9.1f}x"
    )
    done = pl.count_macs(pruned, example)  # what a dense kernel really computes
    print(f"  -> {speedup_verdict(ms['dense'] / ms['pruned'], dense_macs / done)}")

# %% [markdown]
# Two gaps can appear (the verdicts above compare each speed-up with the MACs the dense
# kernels really do):
#
# * the weight-pruned MLP *could* skip most of its MACs, but dense hardware does them anyway
#   (lesson 02), so any measured speed-up is noise;
# * the structured CNN really does fewer MACs, and a measured speed-up below its MAC ratio
#   means time goes to work the MAC count does not see.
#
# Part of the reason: MACs count only the multiplications of linear and convolution layers.
# BatchNorm, ReLU and max-pooling have *no* MACs, but they read and write every activation,
# and moving data costs time and energy too. Time each layer of the dense CNN on its own:


# %%
def layer_costs(model: torch.nn.Sequential, x: torch.Tensor) -> list[tuple[str, int, float]]:
    """(name, MACs, milliseconds) for each layer, run on the batch ``x`` one after another."""
    rows = []
    with torch.no_grad():
        for name, layer in model.named_children():
            timer = benchmark.Timer("layer(x)", globals={"layer": layer, "x": x}, num_threads=1)
            ms = 1e3 * timer.blocked_autorange(min_run_time=0.05).median
            rows.append((name, pl.count_macs(layer, x), ms))
            x = layer(x)
    return rows


batch = example.expand(batch_size, -1, -1, -1).contiguous()
costs = layer_costs(cnn.eval(), batch)
names = [name for name, _, _ in costs]
macs_share = [100 * m / sum(c[1] for c in costs) for _, m, _ in costs]
time_share = [100 * t / sum(c[2] for c in costs) for _, _, t in costs]
figure, ax = plt.subplots(figsize=(9, 3.4), layout="constrained")
positions = torch.arange(len(names)).float()
ax.bar(positions - 0.2, macs_share, width=0.4, label="share of MACs")
ax.bar(positions + 0.2, time_share, width=0.4, label="share of time")
ax.set_xticks(positions.tolist(), names, rotation=45)
ax.set(ylabel="% of the whole model")
ax.legend()
plt.show()
free = sum(t for _, m, t in costs if m == 0) / sum(t for _, _, t in costs)
print(f"layers with no MACs at all take {free:.0%} of the time on this machine")

# %% [markdown]
# So a MAC count is a good first estimate of the work, and the only one that does not depend
# on the machine; but for latency or energy, measure on the target hardware.
#
# ## 4 · Customising a model to a budget
#
# Suppose one trained CNN must ship to devices with different limits. `fit_to_budget` tries
# increasing amounts of structured pruning (`pl.prune_units`) and keeps the *least* pruning
# that fits the budget, measured as MACs, parameters or latency. Each budget below is a
# fraction of the dense model's cost.

# %%
from pruning_lessons.teaching.explorers.budget import fit_to_budget

targets = {"macs": 0.25, "parameters": 0.25, "latency": 0.5}
fits = {
    measure: fit_to_budget(cnn, data.test, b, measure=measure) for measure, b in targets.items()
}
figure, axes = plt.subplots(1, 3, figsize=(12, 3.4), layout="constrained")
for ax, (measure, fit) in zip(axes, fits.items(), strict=True):
    budget_curve(fit, ax=ax)
    ax.set_title(f"budget: {fit.budget:.0%} of dense {measure}")
plt.show()
for fit in fits.values():
    print(fit)

# %% [markdown]
# The pruned model then needs fine-tuning, like any other:

# %%
chosen = fits["macs"]
pl.fine_tune(chosen.model, data, epochs=3, desc="fine-tune")
print(
    f"{chosen.amount:.0%} of the units removed to fit {chosen.budget:.0%} of the MACs: "
    f"accuracy {chosen.accuracy:.1%} -> {pl.evaluate(chosen.model, data.test):.1%} after "
    f"fine-tuning (dense {pl.evaluate(cnn, data.test):.1%})"
)

# %% [markdown]
# A real search would pick a different amount for each layer (lesson 06 shows how sensitive
# each layer is) and fine-tune longer, but the recipe is the same: measure the cost that
# matters on the target, prune until it fits, recover the accuracy.
#
# ## 5 · Explore: move the budget
#
# The slider sets the MAC budget as a share of the dense CNN's. The line under it gives the
# least pruning that fits and its accuracy *before* fine-tuning; the plot shows the cost of
# every amount tried. The cell after it prints the result for the starting value.

# %% tags=["nbval-ignore-output"]
from pruning_lessons.teaching.explorers.budget import budget_explorer

budget_explorer(cnn, data.test, measure="macs", start=0.5)

# %%
print(fit_to_budget(cnn, data.test, 0.5, measure="macs"))

# %% [markdown]
# ## Exercise: the MACs of a convolution
#
# Budgets are often given in multiply-accumulates. Count them for one convolution by hand:
# every output value of every filter multiplies `in_channels / groups x kH x kW` inputs by
# weights, and the output's height and width depend on the kernel, padding and stride.

# %%
from pruning_lessons.teaching.exercises.lessons import lesson03 as ex1


# %% exercise="03.ex1"
def conv_macs(conv: torch.nn.Conv2d, height: int, width: int) -> int:
    """Multiply-accumulates of conv on one (in_channels, height, width) input; no bias adds."""
    ### BEGIN SOLUTION
    (kh, kw), (sh, sw), (ph, pw) = conv.kernel_size, conv.stride, conv.padding
    out_h = (height + 2 * ph - kh) // sh + 1
    out_w = (width + 2 * pw - kw) // sw + 1
    return conv.out_channels * out_h * out_w * (conv.in_channels // conv.groups) * kh * kw
    ### END SOLUTION


# %%
ex1.check(conv_macs)

# %%
conv_macs = ex1.use(conv_macs)
first = cnn.conv1
mine = conv_macs(first, 8, 8)
print(
    f"{first}: {mine:,} MACs per 8x8 digit ({ex1.in_use(conv_macs)} function); "
    f"pl.count_macs measures {pl.count_macs(first, torch.zeros(1, 1, 8, 8)):,}"
)


# %% [markdown]
# <!-- model-answer -->
# ## 60-second answer · 60 秒回答
#
# **60-second answer** (as you would say it in an interview)
#
# > *"Pruning is used wherever a trained model is too big or too slow for where it must run.
# > First, compression: storage and download size, which matters for mobile and embedded
# > deployment; unstructured pruning with a sparse format, or structured pruning, both shrink
# > the file. Second, faster inference: structured pruning of channels or heads gives smaller
# > dense layers that run faster on ordinary hardware, and N:M sparsity does on GPUs that
# > support it, mainly in compute-bound work such as a language model's prefill;
# > unstructured sparsity needs a runtime with sparse kernels; latency-aware methods such as
# > NetAdapt prune to a measured latency rather than a FLOP count. Third, energy: fewer
# > operations and less memory traffic per prediction, which counts on battery devices and at
# > data-centre scale; MACs are the usual proxy, but they ignore memory-bound layers like
# > normalisation and pooling, so you measure on the target.
# > Fourth, fitting a budget: from one trained model you derive versions that meet each
# > device's limit on parameters, compute or latency, then fine-tune them. For a network with
# > BatchNorm, after removing channels I recalibrate its statistics before I read the
# > accuracy."*
#
# **60 秒回答**（面试时可以这样说）
#
# > “凡是训练好的模型对运行环境来说太大或太慢的地方，都会用到剪枝。第一是压缩：存储和下载体积，这对移动端和嵌入式部署很重要；非结构化剪枝配合稀疏格式，或者结构化剪枝，都能让文件变小。第二是推理加速：对通道或注意力头做结构化剪枝，得到更小的稠密层，在普通硬件上就能更快；N:M 稀疏在支持它的 GPU 上也能加速，主要是在计算受限的场景，例如大语言模型的预填充阶段；非结构化稀疏需要带稀疏算子的运行时；NetAdapt 这类感知延迟的方法按实测延迟而不是 FLOPs 来剪枝。第三是能耗：每次预测的运算和内存访问更少，这对电池供电的设备和数据中心规模都很重要；通常用 MACs 作为代理指标，但它忽略了归一化、池化这类受内存带宽限制的层，所以要在目标硬件上实测。第四是满足预算：从同一个训练好的模型出发，得到满足各个设备参数量、计算量或延迟限制的版本，再分别微调。对带 BatchNorm 的网络，剪掉通道后要先重新校准 BatchNorm 的统计量，再看准确率。”

# %% [markdown]
# ## Check yourself
#
# <details><summary>1. Why can a sparse format make a file <i>larger</i> than the dense
# one?</summary>
#
# It stores extra information for every kept value (an index, or a mask bit per entry). At
# low sparsity that overhead outweighs the zeros it leaves out; CSR stores an index at least
# as large as the value next to each one, so it needs most weights gone to win.
# </details>
#
# <details><summary>2. Your manager wants a model that runs much faster on the company's
# CPUs. Weight or structured pruning?</summary>
#
# Structured: it makes the dense layers smaller, which ordinary CPU kernels turn into speed.
# Weight pruning would need very high sparsity and sparse kernels to help at all.
# </details>
#
# <details><summary>3. A pruned model needs far fewer MACs, but its speed-up is smaller than
# the MAC ratio. Give two reasons.</summary>
#
# Layers without MACs (BatchNorm, activations, pooling, data movement) still take time; and
# small or narrow layers use the hardware less efficiently, so time does not fall in
# proportion to MACs. Fixed overheads per call also stay.
# </details>
#
# <details><summary>4. How would you fit one trained model to three devices with different
# latency limits?</summary>
#
# Measure latency on each device for a range of pruning amounts (or per-layer ratios chosen
# by sensitivity), take the least pruning that meets each limit, fine-tune each pruned model,
# and check its accuracy.
# </details>
