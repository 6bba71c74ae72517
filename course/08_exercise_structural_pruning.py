# %% [markdown]
# # 08 · Exercise: structural pruning

# %% [markdown]
# <!-- bilingual-box -->
# > **The question** · **问题**
# >
# > **EN** Given a strategy that says which neurons or layers to drop, remove them and keep the
# > network working.
# >
# > **中文** 给定要删除哪些神经元或层的策略，把它们删掉，并让网络继续正常工作。
# >
# > **Three takeaways** · **三个要点**
# >
# > 1. A unit is a row of its layer and a column of every layer that reads it: both go together.
# >    <br>一个单元是本层权重的一行，也是读取它的下一层权重的一列：两者必须一起删除。
# > 2. BatchNorm carries four per-channel tensors, and after Flatten one channel is H×W inputs of
# > the linear layer.
# >    <br>BatchNorm 有四个按通道存放的张量（权重、偏置、running mean、running var），要用同一组下标一起切；Flatten 之后，一个通道对应全连接层的 H×W 个输入。
# > 3. Only a layer whose input and output shapes match can go whole; then re-train and measure the
# > real speed-up.
# >    <br>只有输入输出形状一致的层才能整层删除；之后要重新训练，并实测真正的加速比。

# %% [markdown]
# Weight pruning leaves zeros in matrices of the same size: nothing gets faster. Here you
# remove whole **neurons**, **filters** and **layers**, so the network becomes physically
# smaller, and you keep it working:
#
# 1. see why deleting entries from a state dict breaks the network,
# 2. remove neurons of a Linear layer *and* the matching inputs of the next one,
# 3. remove filters of a conv layer with its BatchNorm and the next conv,
# 4. find the features a Flatten hands to a Linear layer for each channel,
# 5. remove a whole layer whose input and output widths match,
# 6. re-train to recover accuracy, and measure what was gained.
#
# The checks work as in exercise 07: `ex1.check(fn)`, `ex1.hint(1..3)`, `ex1.solution()` and
# `fn = ex1.use(fn)` (your function if it passes, otherwise the reference, with a one-line notice).

# %%
import copy
from collections import OrderedDict

import torch
from torch import nn

import pruning_lessons as pl
from pruning_lessons.teaching.exercises.structural import ex1, ex2, ex3, ex4
from pruning_lessons.teaching.explorers.timing import side_by_side_ms
from pruning_lessons.teaching.narrate import speedup_verdict

torch.set_num_threads(1)  # the models are tiny: one thread is as fast, and steadier
data = pl.load_digits(seed=0)
example = data.test.tensors[0][:1]
pl.seed_everything(0)
model = pl.mlp()
pl.fit(model, data, desc="train the MLP")
accuracy = pl.evaluate(model, data.test)
print(f"MLP: {accuracy:.1%} test accuracy, {pl.count_parameters(model):,} parameters")

# %% [markdown]
# ## 1 · The naive attempt: delete rows from the state dict
#
# Suppose a strategy says "drop the 150 weakest neurons of `fc1`". The state dict is just a
# dictionary of tensors, so why not slice `fc1`'s entries and load them back?

# %%
state = model.state_dict()
keep = state["fc1.weight"].abs().sum(dim=1).argsort(descending=True)[:150].sort().values
state["fc1.weight"], state["fc1.bias"] = state["fc1.weight"][keep], state["fc1.bias"][keep]
try:
    pl.mlp().load_state_dict(state)
except RuntimeError as error:
    print(str(error).splitlines()[1].strip())
    print("...")

# %% [markdown]
# The model was built for 300 neurons, so loading fails. Even if we forced the smaller tensors
# in, `fc2` would still expect 300 inputs and receive 150. Removing a unit is a change to
# **two** layers: the one that produces it and every layer that reads it.
#
# ## 2 · Exercise 1: remove neurons
#
# A Linear layer's weight is `(out_features, in_features)`: a neuron is a **row** (and one
# bias entry); the next layer reads it through a **column**.


# %% exercise="08.ex1"
def remove_neurons(layer: nn.Linear, next_layer: nn.Linear, keep: torch.Tensor):
    """New (layer, next_layer) keeping only the neurons whose indices are in keep."""
    ### BEGIN SOLUTION
    new = nn.Linear(layer.in_features, len(keep))
    new_next = nn.Linear(len(keep), next_layer.out_features)
    with torch.no_grad():
        new.weight.copy_(layer.weight[keep])
        new.bias.copy_(layer.bias[keep])
        new_next.weight.copy_(next_layer.weight[:, keep])
        new_next.bias.copy_(next_layer.bias)
    return new, new_next
    ### END SOLUTION


# %%
ex1.check(remove_neurons)

# %%
remove_neurons = ex1.use(remove_neurons)
smaller = copy.deepcopy(model)
smaller.fc1, smaller.fc2 = remove_neurons(model.fc1, model.fc2, keep)
print(smaller)
print(
    f"accuracy with 150 of 300 neurons in fc1, before re-training: "
    f"{pl.evaluate(smaller, data.test):.1%}"
)

# %% [markdown]
# The library does the same for every layer at once: `pl.prune_units(model, 0.5)` scores each
# neuron by the L1 norm of its incoming weights (Li et al. 2017), removes the lowest half of
# every hidden layer, and returns a new model (the original is untouched). This cell's output
# is pinned by the tests:

# %% tags=["nbval-check-output"]
half = pl.prune_units(pl.mlp(), 0.5)
print({name: tuple(p.shape) for name, p in half.named_parameters()})

# %% [markdown]
# ## 3 · Exercise 2: remove filters, with BatchNorm
#
# In a CNN a unit is a **filter**: the first dimension of the conv weight. BatchNorm after it
# holds four tensors per channel (scale, shift, running mean and running variance), and the
# next conv reads the channel through dimension 1 of its weight.

# %%
pl.seed_everything(0)
cnn = pl.cnn()
pl.fit(cnn, data, epochs=8, desc="train the CNN")
print(
    f"CNN: {pl.evaluate(cnn, data.test):.1%} test accuracy, {pl.count_parameters(cnn):,} parameters"
)


def strongest(conv: nn.Conv2d, fraction: float) -> torch.Tensor:
    """Indices (sorted) of the filters with the largest L1 norms."""
    norms = conv.weight.detach().abs().flatten(1).sum(dim=1)
    count = conv.out_channels - round(fraction * conv.out_channels)
    return norms.argsort(descending=True, stable=True)[:count].sort().values


# %% exercise="08.ex2"
def remove_filters(conv: nn.Conv2d, bn: nn.BatchNorm2d, next_conv: nn.Conv2d, keep: torch.Tensor):
    """New (conv, bn, next_conv) keeping only the filters (channels) in keep."""
    ### BEGIN SOLUTION
    new_conv, new_bn, new_next = copy.deepcopy(conv), copy.deepcopy(bn), copy.deepcopy(next_conv)
    new_conv.weight = nn.Parameter(conv.weight[keep].clone())
    if conv.bias is not None:
        new_conv.bias = nn.Parameter(conv.bias[keep].clone())
    new_conv.out_channels = len(keep)
    new_bn.weight = nn.Parameter(bn.weight[keep].clone())
    new_bn.bias = nn.Parameter(bn.bias[keep].clone())
    new_bn.running_mean = bn.running_mean[keep].clone()
    new_bn.running_var = bn.running_var[keep].clone()
    new_bn.num_features = len(keep)
    new_next.weight = nn.Parameter(next_conv.weight[:, keep].clone())
    new_next.in_channels = len(keep)
    return new_conv, new_bn, new_next
    ### END SOLUTION


# %%
ex2.check(remove_filters)

# %% [markdown]
# ## 4 · Exercise 3: from channels to flattened features
#
# The last conv block feeds `Flatten` and then a Linear layer. Flatten lays out a
# `(C, H, W)` map channel after channel, so removing a channel removes `H * W` consecutive
# input features of the Linear layer.


# %% exercise="08.ex3"
def flatten_keep(keep: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Indices of the Linear layer's input features that belong to the kept channels."""
    ### BEGIN SOLUTION
    per_channel = height * width
    return (keep[:, None] * per_channel + torch.arange(per_channel)[None, :]).flatten()
    ### END SOLUTION


# %%
ex3.check(flatten_keep)

# %% [markdown]
# Now prune half of the filters of `conv2` and `conv3` by hand with your two functions:

# %%
remove_filters = ex2.use(remove_filters)
flatten_keep = ex3.use(flatten_keep)

by_hand = copy.deepcopy(cnn).eval()
keep2 = strongest(cnn.conv2, 0.5)
by_hand.conv2, by_hand.bn2, by_hand.conv3 = remove_filters(cnn.conv2, cnn.bn2, cnn.conv3, keep2)
keep3 = strongest(cnn.conv3, 0.5)
new_conv3, by_hand.bn3, _ = remove_filters(by_hand.conv3, cnn.bn3, cnn.conv3, keep3)
by_hand.conv3 = new_conv3
features = flatten_keep(keep3, 2, 2)  # conv3's maps are 2 x 2 after the last pooling
by_hand.fc = nn.Linear(len(features), 10)
with torch.no_grad():
    by_hand.fc.weight.copy_(cnn.fc.weight[:, features])
    by_hand.fc.bias.copy_(cnn.fc.bias)

library = pl.prune_units(cnn, {"conv2": 0.5, "conv3": 0.5})
x = data.test.tensors[0][:64]
print("by hand == pl.prune_units:", torch.allclose(by_hand(x), library.eval()(x), atol=1e-5))
print(
    f"parameters {pl.count_parameters(cnn):,} -> {pl.count_parameters(by_hand):,}, "
    f"accuracy before re-training {pl.evaluate(by_hand, data.test):.1%}"
)

# %% [markdown]
# ## 5 · Exercise 4: remove a whole layer
#
# A layer can go only if what comes out of it has the shape of what goes in: then its
# neighbours still fit together. In a 64-100-100-10 MLP the middle layer maps 100 to 100.


# %% exercise="08.ex4"
def drop_layer(model: nn.Sequential, name: str) -> nn.Sequential:
    """A copy of model without layer `name` and the ReLU right after it (if one follows);
    ValueError if the widths differ."""
    ### BEGIN SOLUTION
    layer = model.get_submodule(name)
    if layer.in_features != layer.out_features:
        raise ValueError(f"{name} changes the width, so removing it breaks its neighbours")
    names = [n for n, _ in model.named_children()]
    after = names.index(name) + 1
    drop = {name}
    if after < len(names) and isinstance(model[after], nn.ReLU):
        drop.add(names[after])
    return nn.Sequential(
        OrderedDict((n, copy.deepcopy(m)) for n, m in model.named_children() if n not in drop)
    )
    ### END SOLUTION


# %%
ex4.check(drop_layer)

# %%
drop_layer = ex4.use(drop_layer)
pl.seed_everything(0)
deep = pl.mlp([64, 100, 100, 10])
pl.fit(deep, data, desc="train 64-100-100-10")
shallow = drop_layer(deep, "fc2")
without = pl.evaluate(shallow, data.test)
print(
    f"with fc2: {pl.evaluate(deep, data.test):.1%}; without it, before re-training: {without:.1%}"
)
chance = 1 / deep.fc3.out_features
if without < chance:
    with torch.no_grad():
        guesses = shallow(data.test.tensors[0]).argmax(dim=1)
    top = torch.bincount(guesses, minlength=10).max().item() / len(guesses)
    print(
        f"That is below chance ({chance:.0%}). fc3 now reads fc1's outputs, which it was never "
        f"trained on, so its answers are not random guesses but a systematic misreading: "
        f"{top:.0%} of the test images get the same digit."
    )
try:
    drop_layer(deep, "fc1")
except ValueError as error:
    print("fc1 cannot go:", error)

# %% [markdown]
# ## 6 · Re-train to recover, and measure
#
# Removing units changes what the next layers receive, so accuracy drops; a few epochs of
# fine-tuning recover most of it. Then the smaller models are *really* smaller and faster:
# the latencies below are measured now, on this machine, side by side.

# %%
rows = []
for name, dense, pruned in [
    ("MLP, 50 % of hidden neurons", model, pl.prune_units(model, 0.5)),
    ("CNN, conv2+conv3 halved", cnn, by_hand),
    ("MLP 64-100-100-10 without fc2", deep, shallow),
]:
    before = pl.evaluate(pruned, data.test)
    pl.fine_tune(pruned, data, desc="re-train")
    ms = side_by_side_ms({"dense": dense, "pruned": pruned}, example, batch_size=256)
    rows.append(
        (
            name,
            pl.count_parameters(dense),
            pl.count_parameters(pruned),
            pl.evaluate(dense, data.test),
            before,
            pl.evaluate(pruned, data.test),
            ms["dense"] / ms["pruned"],
            pl.count_macs(dense, example) / pl.count_macs(pruned, example),
        )
    )
header = ("model", "params", "dense", "pruned", "re-trained")
print("test accuracy; time: batch of 256, alternating rounds, fastest round of each")
print("{:31s} {:>15s} {:>6s} {:>7s} {:>10s}".format(*header))
for name, p0, p1, a0, a1, a2, speedup, mac_ratio in rows:
    print(f"{name:31s} {p0:>6,} -> {p1:>6,} {a0:6.1%} {a1:7.1%} {a2:10.1%}")
    print(f"{'':31s} {speedup_verdict(speedup, mac_ratio)}")

# %% [markdown]
# ## 7 · Explore: how much can go?
#
# The slider removes a fraction of *every* hidden layer's neurons from the trained MLP
# (without re-training) and reports parameters, test accuracy and its speed-up over the dense
# model, timed side by side and checked against the MAC ratio. The cell after
# it shows the default for readers without a kernel.

# %% tags=["nbval-ignore-output"]
from pruning_lessons.teaching.explorers.units import units_effect, units_explorer

units_explorer(model, data.test)

# %%
print(units_effect(model, data.test, 0.5))

# %% [markdown]
# ## 8 · Pruning a real network
#
# In the MLP every hidden layer was its own group. Real networks couple layers: `pl.unit_groups`
# runs the model once on an example input, follows every tensor, and lists the **groups** of
# layers that must lose the *same* units. Each row of the picture is one group: blue layers
# make the units (their rows go), green ones scale them (BatchNorm), orange ones read them
# (their input columns go).

# %%
from pruning_lessons.teaching.exercises.structural import TinyDecoder, ex5

resnet_groups = pl.unit_groups(pl.tiny_resnet())
pl.plot_unit_groups(resnet_groups, title="tiny ResNet: one row per group")
stream = resnet_groups[0]
print(f"{stream.name!r}: {stream.size} channels shared by {', '.join(stream.layers)}")

# %% [markdown]
# The first row is the **residual stream**: every block *adds* its output to its input, so
# the stem's channel 5 and each block's last channel 5 are summed into one number. Removing it
# from one of them only would add mismatched channels; they go together or not at all. The
# layers inside a block (one row each) are free.
#
# A transformer block has the same kind of coupling, plus **heads**. Attention splits `q`,
# `k` and `v` into heads of `head_dim` channels and mixes channels only inside a head, so a
# unit is a whole head: its rows in `q`, `k`, `v` and its columns in the output projection
# `o`. Under **grouped-query attention** (GQA: in LLaMA 2 only the 70B model, in LLaMA 3 every
# size) several query heads share one
# key/value head, and the unit becomes one key/value head with all its query heads.

# %%
pl.seed_everything(0)
decoder = TinyDecoder().eval()
ids = torch.randint(0, 32, (1, 6))
decoder_groups = pl.unit_groups(decoder, ids)
pl.plot_unit_groups(decoder_groups, title="a decoder with one GQA transformer block")
attention = decoder.block.attention
heads = next(g for g in decoder_groups if g.name == "block.attention.q")
print(
    f"{attention.num_heads} query heads share {attention.num_kv_heads} key/value heads: "
    f"the attention group has {heads.size} units of {attention.num_heads // heads.size} "
    f"query heads each"
)
for group in decoder_groups:
    if group.pinned:
        print(f"kept whole: {group.name!r} ({group.size} units): {group.pinned}")

# %% [markdown]
# The last lines say what is *kept whole* and why: the output layer's units are the logits,
# and the width of the residual stream is normalised by LayerNorm, so removing a channel
# would change the mean and variance of all the others (`through_norms=True` prunes it
# anyway, as Torch-Pruning does, and then the result is no longer the original minus some
# units). The MLP's hidden width (`gate` and `up` multiplied, SwiGLU) and the heads are free.
#
# ## 9 · Exercise 5: remove attention heads under GQA
#
# Write `remove_heads(attention, keep)`: keep the key/value heads `keep` (indices) and their
# query heads, return a new module. `attention.q`, `.k`, `.v` and `.o` are `nn.Linear`;
# query head `h` uses rows `h * head_dim ... h * head_dim + head_dim - 1` of `q`, and
# key/value head `j` serves query heads `j * group ... j * group + group - 1` with
# `group = num_heads // num_kv_heads`.


# %% exercise="08.ex5"
def remove_heads(attention: nn.Module, keep: torch.Tensor) -> nn.Module:
    """A copy of attention with only the key/value heads `keep` and their query heads."""
    ### BEGIN SOLUTION
    group = attention.num_heads // attention.num_kv_heads
    d = attention.head_dim
    kv_rows = (keep[:, None] * d + torch.arange(d)).flatten()
    q_heads = (keep[:, None] * group + torch.arange(group)).flatten()
    q_rows = (q_heads[:, None] * d + torch.arange(d)).flatten()
    new = copy.deepcopy(attention)
    with torch.no_grad():
        for name, rows in (("q", q_rows), ("k", kv_rows), ("v", kv_rows)):
            layer = getattr(new, name)
            layer.weight = nn.Parameter(layer.weight[rows].clone())
            layer.bias = nn.Parameter(layer.bias[rows].clone())
            layer.out_features = len(rows)
        new.o.weight = nn.Parameter(new.o.weight[:, q_rows].clone())
        new.o.in_features = len(q_rows)
    new.num_heads, new.num_kv_heads = len(q_heads), len(keep)
    return new
    ### END SOLUTION


# %%
ex5.check(remove_heads)

# %% [markdown]
# The library removes the same heads: it scores each unit (L1 norm of its rows in `q`, `k`
# and `v`), drops the lowest, and slices every member of the group.

# %%
remove_heads = ex5.use(remove_heads)
dropped = pl.select_units(decoder, {"block.attention.q": 0.5}, example_input=ids)
keep = torch.tensor([j for j in range(heads.size) if j not in dropped["block.attention.q"]])
library = pl.prune_units(decoder, {"block.attention.q": 0.5}, example_input=ids)
mine = remove_heads(decoder.block.attention, keep)
same = all(
    torch.equal(getattr(mine, n).weight, getattr(library.block.attention, n).weight) for n in "qkvo"
)
print(f"kept key/value heads {keep.tolist()}; by hand == pl.prune_units: {same}")
print(
    f"MACs of the decoder on 6 tokens: {pl.count_macs(decoder, ids):,} -> "
    f"{pl.count_macs(library, ids):,} (attention products included)"
)

# %% [markdown]
# ## 10 · Mixture-of-experts: remove whole experts
#
# A mixture-of-experts (MoE) layer, as in Mixtral, replaces one MLP by `E` expert MLPs and a
# **router**: a linear map whose row `e` scores expert `e` for each token; each token goes to
# its top `k` experts (Mixtral: 2 of 8), weighted by the softmax of their scores. The unit to
# prune is then a **whole expert**: its three weight matrices *and* its router row, so the
# router scores only the experts that are left. Two things must still hold: at least `k`
# experts per layer (top-`k` must have `k` to pick), and the layer must compute what it did
# for every token whose experts all stayed. Removing expert `e` is exact in that sense: the
# pruned model computes what the original computes with `e`'s router logit forced to
# `-inf` (softmax gives it probability 0, top-`k` never picks it).
#
# Which experts? `pl.prune_experts` ranks them by **router statistics**: each expert's mean
# routing probability over some calibration tokens, the least used first. Lu et al. 2024 ("Not
# All Experts are Equal", ACL) prune whole experts of Mixtral 8x7B after training and choose
# them, layer by layer, by how little the layer's output on calibration data changes; they also
# skip experts dynamically per token. Memory shrinks with every expert removed; the compute
# per token does not, since each token still runs `k` experts.
#
# A small Mixtral (random weights, built from a config: no download), half its experts removed:

# %%
import transformers

torch.manual_seed(0)
moe_config = transformers.MixtralConfig(
    vocab_size=96,
    hidden_size=32,
    intermediate_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    num_local_experts=4,
    num_experts_per_tok=2,
)
moe = transformers.MixtralForCausalLM(moe_config).eval()
tokens = torch.randint(0, 96, (4, 16), generator=torch.Generator().manual_seed(0))
scores = pl.expert_scores(moe, tokens)
removed = pl.select_experts(moe, 0.5, tokens)
small_moe = pl.prune_experts(moe, 0.5, tokens)
for (layer, share), gone in zip(scores.items(), removed.values(), strict=True):
    kept = [e for e in range(len(share)) if e not in gone]
    print(
        f"{layer}: mean routing probability {[round(p, 3) for p in share.tolist()]}, keeps {kept}"
    )
print(
    f"parameters {pl.count_parameters(moe):,} -> {pl.count_parameters(small_moe):,}; "
    f"experts per layer {moe.config.num_local_experts} -> {small_moe.config.num_local_experts}, "
    f"top-{small_moe.config.num_experts_per_tok} still valid"
)
with pl.silenced_experts(moe, removed), torch.no_grad():
    reference = moe(tokens).logits  # the original, removed experts' router logits at -inf
with torch.no_grad():
    gap = (small_moe(tokens).logits - reference).abs().max().item()
    changed = (moe(tokens).logits - reference).abs().max().item()
print(f"pruned vs original with those experts silenced: largest difference {gap:.1e}")
print(f"(the original itself differs from that reference by {changed:.2f}: tokens lost experts)")

# %% [markdown]
# The first difference is rounding: the pruned model *is* the original with those experts
# switched off. (With random weights the router spreads the tokens almost evenly, about `1/E`
# each, so the choice here is nearly arbitrary; in trained models some experts matter far
# less than others, which is the point of Lu et al.'s title.) The second is what pruning
# changed, for the tokens that had picked a removed expert: with trained weights that is the
# accuracy cost to measure (and recover by fine-tuning), exactly as for neurons and heads.

# %% [markdown]
# ## What you built
#
# * A unit is a row of its layer and a column of the next: both must go together.
# * BatchNorm carries four per-channel tensors, running statistics included.
# * After `Flatten`, one channel is `H * W` consecutive features of the Linear layer.
# * Only a layer whose input and output shapes match can be removed outright.
# * Structured pruning shrinks parameters, file size and latency for real; fine-tuning
#   recovers the accuracy.
# * In real networks units come in groups: a residual stream, a head (rows of q, k, v and
#   columns of o), a key/value head with its query heads under GQA. `pl.unit_groups` finds
#   them; `pl.prune_units(model, amount, example_input=x)` removes them together.
# * `pl.prune_units` checks its own result: the pruned copy must compute the original with
#   the removed units zeroed, or the groups that break it are kept whole and named.
# * A mixture-of-experts layer (Mixtral, Qwen2-MoE) has one more unit: a whole expert, with its
#   router row; `pl.prune_experts(model, amount, calibration)` removes the least-routed ones,
#   keeps at least top-`k` experts per layer, and computes exactly the original with those
#   experts' router logits at `-inf`.

# %% [markdown]
# <!-- model-answer -->
# ## 60-second answer · 60 秒回答
#
# **60-second answer** (as you would say it in an interview)
#
# > "A unit is a row of its layer's weight and bias, and a column of every layer that reads it.
# > To remove filters from a convolution I slice its output channels, the following BatchNorm's
# > weight, bias, running mean and running variance, and the next convolution's input channels;
# > after a Flatten, one channel is H×W consecutive inputs of the linear layer. I build new,
# > smaller modules instead of editing a state_dict, and check that the forward pass runs. A
# > whole layer can go only if its input and output shapes match, like a residual block. Then I
# > recalibrate the BatchNorm statistics, fine-tune, and measure the latency: the speed-up usually
# > stays below the MAC ratio; one clearly above it can be real, since a smaller working set may
# > now fit in cache and MACs ignore memory traffic, so I re-measure it and explain it before I
# > quote it. In a mixture-of-experts (MoE) model the unit is a whole expert with its router
# > row; at least top-k experts must stay in each layer."
#
# **60 秒回答**（面试时可以这样说）
#
# > “一个单元是本层权重和偏置的一行，也是每个读取它的层的一列。从卷积层删除滤波器时，我要同时切掉它的输出通道、后面 BatchNorm 的权重、偏置、running mean 和 running var，以及下一个卷积的输入通道；在 Flatten 之后，一个通道对应全连接层中连续的 H×W 个输入。我会新建更小的模块，而不是修改 state_dict，并检查前向传播能跑通。只有输入输出形状一致的层（例如残差块）才能整层删除。之后重新校准 BatchNorm 的统计量、微调，并实测延迟：加速比通常低于 MACs 的减少倍数；明显超过它也可能是真的（更小的工作集能放进缓存，而 MACs 不计内存访问），所以我会重新测量并解释原因，然后才引用这个数。在混合专家（MoE）模型中，单元是一个完整的专家连同它在路由器中的那一行；每层至少要留下 top-k 个专家。”
