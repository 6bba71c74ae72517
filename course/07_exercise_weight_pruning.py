# %% [markdown]
# # 07 · Exercise: weight pruning

# %% [markdown]
# <!-- bilingual-box -->
# > **The question** · **问题**
# >
# > **EN** Implement weight pruning: remove the connections whose magnitude is at or below a
# > threshold and keep the network accurate.
# >
# > **中文** 实现权重剪枝：删除幅值不超过阈值的连接，并保持网络的准确率。
# >
# > **Three takeaways** · **三个要点**
# >
# > 1. A pruned weight is a zero in a boolean mask of the same shape, not a number deleted from a
# > list.
# >    <br>被剪掉的权重是同形状布尔掩码中的一个零，而不是从列表里删掉的一个数。
# > 2. A sparsity target prunes exactly round(s·n) weights, the smallest magnitudes, ties broken by
# > index.
# >    <br>按稀疏度目标剪枝时，恰好剪掉 round(s·n) 个幅值最小的权重，幅值相同时按下标先后决定。
# > 3. Global pruning ranks all layers together and prunes them unevenly; the mask must keep pruned
# > weights at zero while fine-tuning.
# >    <br>全局剪枝把所有层放在一起排序，各层被剪的比例不同；微调时掩码必须让被剪的权重始终为零。

# %% [markdown]
# You are given a trained network and asked to *remove the connections whose weight is small*
# without breaking it. You will build the tool step by step:
#
# 1. see why deleting numbers from the weights cannot work,
# 2. a **threshold mask**: prune every weight with $|w| \le t$,
# 3. a **sparsity target**: prune exactly a given fraction,
# 4. **global vs per-layer** pruning,
# 5. a training step that keeps pruned weights at **exactly zero**.
#
# Each exercise is a function with a `raise NotImplementedError(...)` line to replace.
# Then `ex1.check(fn)` says *Correct*, *Incorrect* (with the first thing that is wrong) or
# *Not attempted yet*; `ex1.hint(1)` to `ex1.hint(3)` give a ladder of hints and
# `ex1.solution()` shows a reference. `fn = ex1.use(fn)` keeps your function if it passes and
# otherwise puts in a stand-in that runs the reference (with a one-line notice), so the rest of the
# notebook always runs; checking `fn` again still checks your own code.

# %%
import copy

import torch
from torch import nn

import pruning_lessons as pl
from pruning_lessons.teaching.exercises.weight import ex1, ex2, ex3, ex4

torch.set_num_threads(1)  # the models are tiny: one thread is as fast, and steadier
data = pl.load_digits(seed=0)
pl.seed_everything(0)
model = pl.mlp()  # 64 -> 300 -> 100 -> 10
pl.fit(model, data, desc="train the MLP")
dense_accuracy = pl.evaluate(model, data.test)
print(f"dense test accuracy: {dense_accuracy:.1%}, parameters: {pl.count_parameters(model):,}")

# %% [markdown]
# ## 1 · The naive attempt: drop the small numbers
#
# A first idea is to walk over the weights and keep only the large ones. Let us try it on the
# first layer, as Python lists:

# %%
threshold = 0.05
rows = model.fc1.weight.detach().tolist()  # 300 rows of 64 numbers
survivors = [[w for w in row if abs(w) > threshold] for row in rows]
lengths = sorted({len(row) for row in survivors})
print(f"rows now have between {lengths[0]} and {lengths[-1]} numbers instead of 64")
try:
    torch.tensor(survivors)
except ValueError as error:
    print("cannot rebuild the weight matrix:", error)

# %% [markdown]
# The rows now have different lengths, so they no longer form a matrix, and the layer cannot
# multiply its 64 inputs by them. Worse, we forgot *which* input each surviving number belonged
# to. A pruned layer must keep its shape: a removed connection is a weight that is **zero**.
#
# The right tool is a **mask**: a boolean tensor of the weight's shape, `True` = keep. Pruning
# is then `weight * mask`.
#
# ## 2 · Exercise 1: a threshold mask


# %% exercise="07.ex1"
def threshold_mask(weight: torch.Tensor, threshold: float) -> torch.Tensor:
    """Boolean keep-mask of weight's shape: False where |w| <= threshold."""
    ### BEGIN SOLUTION
    return weight.abs() > threshold
    ### END SOLUTION


# %%
ex1.check(threshold_mask)

# %%
threshold_mask = ex1.use(threshold_mask)
mask = threshold_mask(model.fc1.weight.detach(), threshold)
print(f"fc1: {(~mask).sum().item():,} of {mask.numel():,} weights at or below {threshold}")

# %% [markdown]
# A fixed threshold gives whatever sparsity the weights happen to have. Usually we want a
# **target** instead: "make 90 % of the weights zero".
#
# ## 3 · Exercise 2: a sparsity target
#
# Prune exactly `round(amount * n)` weights, the ones with the smallest $|w|$. When several
# weights have the same magnitude, prune the lower (flattened) index first, so the result is
# the same on every run. (`torch.nn.utils.prune` counts the same way, but breaks ties
# arbitrarily.)


# %% exercise="07.ex2"
def amount_mask(weight: torch.Tensor, amount: float) -> torch.Tensor:
    """Keep-mask pruning exactly round(amount * n) smallest |w|; ties: lower index first."""
    ### BEGIN SOLUTION
    k = round(amount * weight.numel())
    order = torch.argsort(weight.abs().flatten(), stable=True)
    keep = torch.ones(weight.numel(), dtype=torch.bool, device=weight.device)
    keep[order[:k]] = False
    return keep.reshape(weight.shape)
    ### END SOLUTION


# %%
ex2.check(amount_mask)

# %%
amount_mask = ex2.use(amount_mask)
w = model.fc2.weight.detach()
same = torch.equal(amount_mask(w, 0.9), pl.magnitude_mask(w, 0.9))
print(f"{ex2.in_use(amount_mask)} amount_mask equals the library's pl.magnitude_mask: {same}")

# %% [markdown]
# A tiny case whose answer you can check by hand (this cell's output is pinned by the tests):
# the two smallest magnitudes, and the first of the two tied `0.5`s, go.

# %% tags=["nbval-check-output"]
example = torch.tensor([0.5, -0.1, 0.5, 2.0, 0.05, -3.0])
print(pl.magnitude_mask(example, 0.5).tolist())

# %% [markdown]
# ## 4 · Exercise 3: global vs per-layer
#
# *Per-layer* pruning removes the same fraction from every layer. *Global* pruning lets all
# weights compete: one cut for the whole network, so a layer full of small weights loses more.


# %% exercise="07.ex3"
def global_masks(weights: dict[str, torch.Tensor], amount: float) -> dict[str, torch.Tensor]:
    """One keep-mask per name; round(amount * total) smallest |w| pruned over all tensors."""
    ### BEGIN SOLUTION
    flat = torch.cat([w.flatten() for w in weights.values()])
    keep = amount_mask(flat, amount)
    masks, start = {}, 0
    for name, w in weights.items():
        masks[name] = keep[start : start + w.numel()].reshape(w.shape)
        start += w.numel()
    return masks
    ### END SOLUTION


# %%
ex3.check(global_masks)

# %%
global_masks = ex3.use(global_masks)
weights = {name: p.detach() for name, p in pl.prunable_parameters(model).items()}
masks_by_scope = {
    "per-layer": {name: amount_mask(w, 0.9) for name, w in weights.items()},
    "global": global_masks(weights, 0.9),
}
pruned_models = {}
for scope, masks in masks_by_scope.items():
    pruned = copy.deepcopy(model)
    with torch.no_grad():
        for name, keep in masks.items():
            pruned.get_parameter(name).mul_(keep)
    pruned_models[scope] = (pruned, masks)
    shares = ", ".join(f"{n}: {(~m).float().mean():.0%}" for n, m in masks.items())
    print(f"{scope:9s} accuracy {pl.evaluate(pruned, data.test):.1%}  pruned per layer: {shares}")

# %% [markdown]
# Both prune 90 % overall, but global pruning spreads it unevenly, following the weights'
# magnitudes. Without retraining, accuracy drops: the next step is fine-tuning.
#
# ## 5 · Exercise 4: masks that hold during training
#
# Fine-tuning updates the surviving weights, and the pruned ones come back unless you stop
# them. Zeroing a weight does not zero its **gradient**: the loss would generally still like
# that connection to move, so even plain SGD writes a non-zero value back into it at the next
# step.
#
# What about masking the gradient instead? With an optimizer created after pruning, that is
# enough: a gradient that is always zero keeps momentum (and Adam's running averages) at zero
# too. It fails when the optimizer carries **state from before pruning**: the stored velocity
# of a weight that was just pruned still moves it, although its gradient is now zero. (Weight
# decay is not the cause: it adds $\lambda w$, which is 0 for $w = 0$.) So the rule is: mask the
# gradient *and* clear any optimizer state made before pruning, or re-apply the mask after
# every step, or mask in the forward pass (a parametrisation, as `torch.nn.utils.prune` and
# `pl.install_mask` do), which zeroes the gradient by construction.
#
# The checker below starts your step with an optimizer that already has momentum, the case
# where masking only the gradient fails. Write one training step that leaves every pruned
# weight at exactly 0.


# %% exercise="07.ex4"
def masked_step(model, masks, optimizer, x, y) -> float:
    """One step of training; afterwards every weight with mask False is exactly zero."""
    ### BEGIN SOLUTION
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        for name, keep in masks.items():
            model.get_parameter(name).mul_(keep)
    return loss.item()
    ### END SOLUTION


# %%
ex4.check(masked_step)

# %%
masked_step = ex4.use(masked_step)


def fine_tune_with(step, model, masks, epochs=5, momentum=0.9):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=momentum)
    loader = torch.utils.data.DataLoader(
        data.train, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    for _ in range(epochs):
        for x, y in loader:
            step(model, masks, optimizer, x, y)


def plain_step(model, masks, optimizer, x, y):
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()


pruned, masks = pruned_models["global"]
runs = [
    ("plain SGD (no momentum), no re-masking", plain_step, 0.0),
    ("SGD with momentum, no re-masking", plain_step, 0.9),
    (f"SGD with momentum, {ex4.in_use(masked_step)} masked_step", masked_step, 0.9),
]
for name, step, momentum in runs:
    tuned = copy.deepcopy(pruned)
    fine_tune_with(step, tuned, masks, momentum=momentum)
    revived = sum(int((tuned.get_parameter(n)[~m] != 0).sum()) for n, m in masks.items())
    print(
        f"{name:47s}: accuracy {pl.evaluate(tuned, data.test):.1%}, "
        f"pruned weights that came back: {revived:,}"
    )

# %% [markdown]
# The gradient-masking rule, checked on the same pruned model: one run masks the gradients
# with a fresh optimizer, the other first trains a few steps *before* pruning and keeps that
# optimizer (its momentum) after the mask is applied.


# %%
def masked_gradient_step(model, masks, optimizer, x, y):
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    for name, keep in masks.items():
        model.get_parameter(name).grad.mul_(keep)
    optimizer.step()


def gradient_masking_revivals(carry_state: bool) -> int:
    tuned = copy.deepcopy(model)  # dense
    optimizer = torch.optim.SGD(tuned.parameters(), lr=0.05, momentum=0.9)
    x, y = data.train.tensors
    if carry_state:  # one dense step before pruning fills the momentum buffers
        plain_step(tuned, masks, optimizer, x[:256], y[:256])
    with torch.no_grad():
        for name, keep in masks.items():
            tuned.get_parameter(name).mul_(keep)
    for start in range(0, 5 * 32, 32):
        masked_gradient_step(tuned, masks, optimizer, x[start : start + 32], y[start : start + 32])
    return sum(int((tuned.get_parameter(n)[~m] != 0).sum()) for n, m in masks.items())


for carry in (False, True):
    where = "momentum from before pruning" if carry else "a fresh optimizer"
    print(
        f"gradients masked, {where:30s}: pruned weights that came back after 5 steps: "
        f"{gradient_masking_revivals(carry):,}"
    )

# %% [markdown]
# ## 6 · The same with the library
#
# `pl.magnitude_prune` does all of the above in one call and keeps the masks installed on the
# model, so any ordinary training loop (here `pl.fine_tune`) leaves the zeros in place.

# %%
library_model = copy.deepcopy(model)
pl.magnitude_prune(library_model, 0.9, scope="global")
pl.fine_tune(library_model, data, desc="fine-tune")
print(
    f"accuracy {pl.evaluate(library_model, data.test):.1%}, "
    f"sparsity {pl.sparsity(library_model):.1%}"
)
pl.sparsity_report(library_model, weights_only=True)

# %% [markdown]
# ## 7 · Explore: move the threshold
#
# Drag the slider (it recomputes when you let go): the shaded band is the cut $|w| \le t$,
# and the line above it gives the sparsity and the accuracy *without* fine-tuning. The cell
# below the slider shows the same for the default threshold, for readers without a kernel.

# %% tags=["nbval-ignore-output"]
from pruning_lessons.teaching.explorers.threshold import threshold_effect, threshold_explorer

threshold_explorer(model, data.test)

# %%
print(threshold_effect(model, data.test, 0.05))

# %% [markdown]
# ## What you built
#
# * A mask keeps the weight's shape; a pruned weight is a zero, not a missing number.
# * "Prune 90 %" means `round(0.9 * n)` weights, the smallest magnitudes, ties broken by index.
# * Global pruning ranks all layers together and prunes unevenly; per-layer prunes evenly.
# * Zeros must hold during training: the gradient at a pruned weight is generally not zero.
#   Re-apply the mask after every step, or mask in the forward pass, or mask the gradient
#   *and* clear optimizer state made before pruning (carried-over momentum revives weights).

# %% [markdown]
# <!-- model-answer -->
# ## 60-second answer · 60 秒回答
#
# **60-second answer** (as you would say it in an interview)
#
# > "I never delete entries from the weight tensor, because the layer needs its shape. I build a
# > boolean mask of the same shape, True where |w| is above the threshold, and multiply the
# > weight by it; during fine-tuning the mask must stay in force, in the forward pass or
# > re-applied after every optimizer step, because the gradient at a pruned weight is generally
# > not zero, so even plain SGD moves it; masking only the gradient works with a fresh
# > optimizer but fails when momentum or Adam state from before pruning is carried over, so I
# > clear that state. For a sparsity target I prune k = round(s·n)
# > weights, the smallest magnitudes, with ties broken by index so exactly k go. Per-layer
# > pruning ranks within each layer; global pruning ranks all layers together, which prunes them
# > unevenly and can empty a layer, which LAMP or a per-layer floor prevents. Then I fine-tune
# > and report sparsity, accuracy and file size."
#
# **60 秒回答**（面试时可以这样说）
#
# > “我不会从权重张量里删掉数，因为层需要原来的形状。我构造一个同形状的布尔掩码，|w| 大于阈值的位置为 True，把权重乘以掩码；微调时掩码必须一直生效（在前向传播里应用，或者每次优化器更新后重新置零），因为被剪位置上的梯度一般不为零，连普通 SGD 也会改变它；只把梯度置零，在剪枝后新建的优化器上可行，但如果沿用剪枝前的动量或 Adam 状态就会失败，所以要清掉这些状态。按稀疏度目标剪枝时，删掉 k = round(s·n) 个幅值最小的权重，幅值相同时按下标决定，保证恰好删掉 k 个。逐层剪枝在每层内排序；全局剪枝把所有层放在一起排序，各层被剪的比例不同，甚至可能把某层剪空，LAMP 或每层的下限可以防止这一点。最后微调，并报告稀疏度、准确率和文件大小。”
