# %% [markdown]
# # 04 · The common pruning methods

# %% [markdown]
# <!-- bilingual-box -->
# > **The question** · **问题**
# >
# > **EN** What are the common pruning methods?
# >
# > **中文** 常见的剪枝方法有哪些？
# >
# > **Three takeaways** · **三个要点**
# >
# > 1. Methods differ in their evidence: magnitude, structure, redundancy, gradients, and
# > second-order curvature (OBD, OBS).
# >    <br>各种方法的区别在于依据：幅值、结构、冗余、梯度，以及二阶曲率（OBD、OBS）。
# > 2. Every criterion must beat random pruning at the same sparsity and the same fine-tuning
# > budget.
# >    <br>任何准则都必须在相同稀疏度、相同微调预算下胜过随机剪枝，才说明它有价值。
# > 3. Global magnitude pruning is cheap and a strong baseline; fine-tuning narrows the gaps
# > between criteria.
# >    <br>全局幅值剪枝代价低，是很强的基线；微调会缩小各准则之间的差距。

# %% [markdown]
# **The interview question:** *What are the common pruning methods?*
#
# Every pruning method answers the same question, *which parts of the network can go?*, and
# the methods differ in the evidence they look at. A useful way to sort them is into four
# families, plus two more: the older second-order family (lesson 10) and reconstruction
# (section 3 runs it on neurons; lesson 10 on single weights):
#
# | family | looks at | in the library |
# |---|---|---|
# | **magnitude** | how large each weight is | `prune_weights`: `"magnitude"`, `"lamp"` |
# | **structural** | whole neurons, filters or layers | `prune_units`: `"l1"`, `"bn"` |
# | **redundancy** | units that duplicate others | `merge_redundant_neurons`, `"fpgm"` |
# | **gradient-based** | the loss's reaction to a weight | `"taylor"`, `"snip"`, `"movement"` |
# | **second-order** | the curvature of an error around a weight | lesson 10 (SparseGPT) |
# | **reconstruction** | the next layer's lost output | `reconstruction_prune`; SparseGPT (10) |
#
# **Reconstruction-based** channel pruning (He et al. 2017; ThiNet, Luo et al. 2017) looks at a
# layer's effect instead of its weights: on sample inputs, keep the channels from which the
# next layer's output can best be reconstructed (chosen by a LASSO regression in He et al.,
# greedily in ThiNet), then refit the kept weights by least squares so the output changes as
# little as possible (section 3 runs it). SparseGPT's weight update (lesson 10) is the same
# idea for single weights.
#
# The second-order family is the oldest: Optimal Brain Damage (LeCun et al. 1990) scores a
# weight by the rise in loss its removal causes, $\tfrac{1}{2} H_{qq} w_q^2$ from the diagonal
# of the Hessian $H$; Optimal Brain Surgeon (Hassibi & Stork 1993) uses the full inverse
# Hessian, $w_q^2 / (2 [H^{-1}]_{qq})$, and also updates the remaining weights to make up for
# the loss. Curvature for every weight is expensive, so the family faded for a while and came
# back with language models: SparseGPT is an approximate OBS, solved layer by layer (lesson 10).
# Note *which* error it curves: not the network's loss, but each layer's reconstruction error
# $\lVert X W^\top - X \hat W^\top \rVert^2$ on calibration inputs $X$ (tokens by features),
# whose Hessian is $H = 2 X^\top X$, the same for every output row.
#
# **Wanda** (lesson 10) is not second-order. Its score $|W_{ij}| \, \lVert X_j \rVert_2$ uses
# only $\lVert X_j \rVert^2 = (X^\top X)_{jj}$, the diagonal of that reconstruction Hessian: with
# a diagonal $H$, OBS's saliency $w^2 / [H^{-1}]_{jj}$ becomes $w^2 H_{jj}$, whose square root
# ranks the weights of a row as Wanda does. So Wanda is at most a diagonal view of SparseGPT's
# score, without the weight update and without any curvature of the loss.
#
# Next to them stands one yardstick that is not a method at all: **random** pruning. A
# criterion that cannot beat a random choice of the same size has not learnt anything about
# the network.
#
# In this lesson all of them prune *the same trained model*. A small comparison runs live
# (one seed, no fine-tuning or a single epoch of it, so it takes seconds). The full study
# (every criterion, several seeds, proper fine-tuning) takes minutes, so it was run once with
# `python benchmarks/bench_criteria.py` and this notebook reads its saved results from
# `benchmarks/results/criteria.json`.

# %%
import copy
import json
import statistics

import matplotlib.pyplot as plt
import torch

import pruning_lessons as pl
from pruning_lessons.teaching.narrate import one_image, rank_among
from pruning_lessons.teaching.plots import comparison_panels, mask_heatmap, study_panels
from pruning_lessons.teaching.studies import spread, study_curves, study_row

data = pl.load_digits(seed=0)
pl.seed_everything(0)
model = pl.mlp()  # 64 -> 300 -> 100 -> 10
pl.fit(model, data, desc="train the MLP")
dense_accuracy = pl.evaluate(model, data.test)
weights = pl.prunable_parameters(model)
dense_weights = sum(w.numel() for w in weights.values())
print(
    f"dense MLP: {dense_accuracy:.1%} test accuracy, {dense_weights:,} weights in {list(weights)}"
)

# %% [markdown]
# ## 1 · Magnitude: small weights matter least
#
# The simplest rule: a weight's importance is its absolute value $|w|$. A small weight
# multiplies its input by almost nothing, so removing it should change little. It costs one
# pass over the weights and needs no data. The rule is old (OBD was compared against it in
# 1990); Han et al. (2015) made it the standard recipe by showing that pruning small weights
# and then *retraining* the survivors shrinks large networks many times over without losing
# accuracy.
#
# Two choices come with it. **Scope**: rank each layer on its own, or all weights together
# (global). **Scaling**: layers have weights of different typical sizes, so a global ranking
# can empty a layer whose weights are all small. LAMP (Lee et al. 2021) rescales each weight
# by the weights larger than it in its own layer, so every layer's largest weight scores the
# same and no layer is wiped out.
#
# ## 2 · Structural: remove whole units
#
# Instead of single weights, score a whole **neuron** (a row of a Linear weight) or **filter**
# (of a convolution), and remove it together with everything that reads it. Common scores:
# the L1 norm of the unit's incoming weights (Li et al. 2017) or the scale of the BatchNorm
# after it. Network Slimming (Liu et al. 2017) is more than that score: it trains with an L1
# penalty on the BatchNorm scales, which drives the scales of unneeded channels towards zero,
# and then removes the channels with the smallest scales across the whole network
# (`pl.bn_l1_penalty` adds the penalty to `fit`). Whole **layers** can go too, when the layers
# around them have matching widths (exercise 08 does it). The result is a genuinely smaller
# dense network, which is why this family gives real speed-ups (lesson 02).
#
# ## 3 · Redundancy: remove what is duplicated
#
# A unit may be large and still useless, if another unit already computes the same thing.
# Two ideas:
#
# * **Merging** (Srinivas & Babu 2015): when neurons $i$ and $j$ have (nearly) the same
#   incoming weights, they output (nearly) the same activation $h$. The next layer computes
#   $a_i h + a_j h = (a_i + a_j) h$, so drop $j$ and add its outgoing weights $a_j$ to $a_i$.
# * **Geometric median** (FPGM, He et al. 2019): in each layer, the filters closest to all the
#   others (near the layer's geometric median) are the easiest for the rest to stand in for,
#   so they go first, however large they are.
#
# Merging is exact for true duplicates. Let us make one: copy neuron 0 of `fc1` onto neuron 1,
# then merge a single neuron of that layer away. (This cell's output is pinned by the tests.)

# %% tags=["nbval-check-output"]
twin = copy.deepcopy(model)
with torch.no_grad():
    twin.fc1.weight[1] = twin.fc1.weight[0]
    twin.fc1.bias[1] = twin.fc1.bias[0]
merged = pl.merge_redundant_neurons(twin, 1 / twin.fc1.out_features, layers="fc1")
images = data.test.tensors[0]
with torch.no_grad():
    same = torch.allclose(twin(images), merged(images), atol=1e-5)
print(f"fc1 neurons: {twin.fc1.out_features} -> {merged.fc1.out_features}")
print(f"same outputs on every test image: {same}")

# %% [markdown]
# ### Reconstruction: let the next layer make up for the loss
#
# Merging hands a removed neuron's work to one twin. **Reconstruction** hands it to all the
# neurons that stay. The next layer computes $y = W h + b$ from the hidden activations $h$;
# removing a set $T$ of neurons changes its output by exactly $-\sum_{c \in T} W_{:,c} h_c$,
# the sum of their *contributions*. On calibration inputs (here the training images):
#
# * **ThiNet** (Luo et al. 2017) chooses $T$ greedily: start empty and repeatedly add the
#   neuron that keeps $\lVert \sum_{c \in T} W_{:,c} h_c \rVert^2$, summed over the images,
#   smallest. He et al. (2017) choose with a LASSO regression instead.
# * Then both **refit** the next layer: the kept columns of $W$ (and here $b$) are solved by
#   least squares so that its output on the calibration inputs stays as close as possible to
#   the dense one. No gradient step, one `torch.linalg.lstsq`.
#
# `pl.reconstruction_prune(model, amount, inputs, layer="fc1")` does both and removes the
# neurons with the same surgery as `prune_units`. Below, half and then 80 % of `fc1`'s
# neurons go, chosen by L1 norm (as `prune_units` does) or by ThiNet's rule, with and
# without the refit, and *no* fine-tuning.

# %%
calibration = data.train.tensors[0]  # the next layer's inputs are recorded on these images
recipes = {
    "L1 norm": {"selection": "l1", "refit": False},
    "L1 norm + refit": {"selection": "l1", "refit": True},
    "ThiNet + refit": {"selection": "thinet", "refit": True},
}
rebuilt = {
    (share, name): pl.evaluate(
        pl.reconstruction_prune(model, share, calibration, layer="fc1", **options), data.test
    )
    for share in (0.5, 0.8)
    for name, options in recipes.items()
}
print(f"fc1 neurons removed, no fine-tuning; test accuracy (dense {dense_accuracy:.1%}):")
for share in (0.5, 0.8):
    row = ", ".join(f"{name} {rebuilt[share, name]:.1%}" for name in recipes)
    print(f"  {share:.0%} removed: {row}")
for share in (0.5, 0.8):
    top = max(rebuilt[share, name] for name in recipes)
    best = [name for name in recipes if rebuilt[share, name] == top]
    gain = 100 * (top - rebuilt[share, "L1 norm"])
    versus = 100 * (rebuilt[share, "ThiNet + refit"] - rebuilt[share, "L1 norm + refit"])
    side = (
        f"{abs(versus):.1f} points {'above' if versus > 0 else 'below'}" if versus else "level with"
    )
    print(
        f"At {share:.0%}, {' and '.join(best)} {'tie' if len(best) > 1 else 'is'} best at "
        f"{top:.1%}, {gain:.1f} points above L1 norm alone; with the refit, ThiNet's choice is "
        f"{side} L1's."
    )
print(f"({one_image(len(data.test))}.)")

# %% [markdown]
# How to read the lines above: the first two columns differ only by the refit, so their gap
# is what the least-squares solve alone is worth; the last two differ only by *which*
# neurons went, once the refit is there. ThiNet's greedy rule minimises the next layer's
# error **before** the refit, so the set it picks need not be the best one **after** it.

# %% [markdown]
# ## 4 · Gradient-based: ask the loss
#
# Size is only a proxy. The gradient $g = \partial L / \partial w$ says how the loss reacts to
# a weight, and a first-order Taylor expansion estimates the change in loss when $w$ is set to
# zero as about $-g\,w$. Three criteria use that:
#
# * **Taylor** (Molchanov et al. 2019): score $(g\,w)^2$, averaged over a few batches.
# * **SNIP** (Lee et al. 2019): score $|g\,w|$ on one batch of a network that is *not trained
#   yet*, prune once, then train the sparse network: pruning *before* training.
# * **Movement** (Sanh et al. 2020): during fine-tuning, keep the weights that training pushes
#   away from zero and drop the ones it pulls towards zero; the score $-\sum_t g_t\,w_t$ is
#   recorded while the model trains. Sanh et al. prune *gradually* while fine-tuning a
#   pre-trained model on a new task; the demo below records the scores during a few epochs
#   on the task the model already learnt and prunes once, so it is an approximation of the
#   method, not the method itself.
#
# They need data and backward passes, so they cost more than magnitude.
#
# ## 5 · What each method removes
#
# Here are the keep-masks of the first layer (one row per neuron, one column per input pixel)
# when the same share of all weights goes by four weight criteria, and when half of every
# hidden layer's neurons go by two unit criteria. Dark = kept.

# %%
amount = 0.8
random_seed = 1  # not 0: seed 0 would replay the random numbers that initialised fc1
masks = {}
for criterion in ("magnitude", "taylor", "lamp", "random"):
    pruned = copy.deepcopy(model)
    masks[criterion] = pl.prune_weights(
        pruned, amount, criterion=criterion, data=data, seed=random_seed
    )
for importance in ("l1", "fpgm"):
    keep = torch.ones_like(model.fc1.weight, dtype=torch.bool)
    keep[pl.select_units(model, 0.5, importance=importance)["fc1"]] = False
    masks[f"neurons, {importance.upper()}"] = {"fc1.weight": keep}

figure, axes = plt.subplots(1, 6, figsize=(13, 3.4), sharey=True, layout="constrained")
figure.suptitle(f"fc1 keep-masks: {amount:.0%} of all weights, or half of the neurons, pruned")
for ax, (name, mask) in zip(axes, masks.items(), strict=True):
    kept = mask["fc1.weight"].float().mean().item()
    mask_heatmap(mask["fc1.weight"], ax=ax, title=f"{name}\n{kept:.0%} of fc1 kept")
plt.show()

magnitude_pruned = ~masks["magnitude"]["fc1.weight"]
for criterion in ("magnitude", "taylor", "lamp", "random"):
    shares = ", ".join(f"{n} {(~m).float().mean():.0%}" for n, m in masks[criterion].items())
    pruned_here = ~masks[criterion]["fc1.weight"]
    shared = (pruned_here & magnitude_pruned).sum() / magnitude_pruned.sum()
    print(
        f"{criterion:9s} pruned {shares}; of the fc1 weights magnitude prunes it prunes "
        f"{shared:.0%} (chance: {pruned_here.float().mean():.0%})"
    )

# %% [markdown]
# What the pictures and the numbers say:
#
# * **Global** criteria do not prune every layer by the same share: the printed shares differ
#   from layer to layer, and LAMP's differ from magnitude's, because LAMP compares each weight
#   with the larger weights of its own layer.
# * **Magnitude** empties whole columns: the border pixels of the digits are always blank, so
#   their weights get no gradient and stay at their small initial values while the others grow.
# * **Taylor** draws vertical stripes. The gradient of a weight is proportional to its input,
#   so the weights of pixels that are rarely inked score low whatever their size. It agrees
#   with magnitude more often than chance would, but far from always.
# * **Random** agrees with magnitude about as often as chance predicts, by definition.
# * The **unit** criteria remove whole rows: a neuron and all its incoming weights.
#
# ## 6 · A live comparison on one plot
#
# Now all four families and the random baseline prune the same model to several sizes. To put
# weights and units on one axis, the x-axis is the **share of the weights removed** (a neuron
# takes its whole row and the matching column of the next layer with it). Each pruned model is
# measured right after pruning and again after **one epoch** of fine-tuning. Two recipes
# differ, as they must:
#
# * **movement** fine-tunes a copy of the dense model for two epochs to record its scores,
#   then prunes;
# * **SNIP** prunes the *initial* weights (the ones the dense model started from) and then
#   gets the whole training run, so it appears only in the right-hand panel.


# %%
def nonzero_weights(m: torch.nn.Module) -> int:
    return sum(int(w.count_nonzero()) for w in pl.prunable_parameters(m).values())


runs: dict[str, list[tuple[float, float | None, float]]] = {}


def measure(name: str, pruned: torch.nn.Module, *, before_fine_tuning: bool = True) -> None:
    """Record (share of weights removed, accuracy now, accuracy after one fine-tuning epoch)."""
    before = pl.evaluate(pruned, data.test) if before_fine_tuning else None
    pl.fine_tune(pruned, data, epochs=1, progress=False)
    removed = 1 - nonzero_weights(pruned) / dense_weights
    runs.setdefault(name, []).append((removed, before, pl.evaluate(pruned, data.test)))


amounts = (0.5, 0.8, 0.9, 0.95)  # share of the weights, for weight criteria
unit_shares = (0.3, 0.5, 0.7, 0.8)  # share of each hidden layer's neurons, for unit criteria

for criterion in ("magnitude", "lamp", "taylor", "random"):
    for a in amounts:
        pruned = copy.deepcopy(model)
        pl.prune_weights(pruned, a, criterion=criterion, data=data, seed=random_seed)
        measure(criterion, pruned)

tracked = copy.deepcopy(model)
with pl.MovementTracker(tracked) as tracker:
    pl.fine_tune(tracked, data, epochs=2, progress=False)
for a in amounts:
    pruned = copy.deepcopy(tracked)
    pl.prune_weights(pruned, a, criterion=tracker.scores())
    measure("movement", pruned)

pl.seed_everything(0)
initial = pl.mlp()  # the same initial weights the dense model started from
snip_scores = pl.snip_scores(initial, data)
for a in amounts:
    sparse = copy.deepcopy(initial)
    pl.prune_weights(sparse, a, criterion=snip_scores)
    pl.fit(sparse, data, progress=False)  # the full training run, after pruning
    measure("snip", sparse, before_fine_tuning=False)

for share in unit_shares:
    measure("neurons, L1", pl.prune_units(model, share, importance="l1"))
    measure("neurons, FPGM", pl.prune_units(model, share, importance="fpgm"))
    measure("neurons, merged", pl.merge_redundant_neurons(model, share))

# %%
FAMILY = {  # method -> family: the colour tells the method, the line style its family
    "magnitude": "magnitude",
    "lamp": "magnitude",
    "neurons, L1": "structural",
    "neurons, FPGM": "redundancy",
    "neurons, merged": "redundancy",
    "taylor": "gradient",
    "snip": "gradient",
    "movement": "gradient",
    "random": "random",
}
comparison_panels(runs, FAMILY, dense=dense_accuracy, fine_tuning="after one epoch of fine-tuning")
plt.show()

print("Near 90 % of the weights removed, test accuracy after one epoch of fine-tuning:")
nearest = {name: min(points, key=lambda p: abs(p[0] - 0.9)) for name, points in runs.items()}
for name, (removed, _, after) in sorted(nearest.items(), key=lambda item: -item[1][2]):
    print(f"  {name:16s} {removed:6.1%} removed: {after:.1%}")
before = {name: nearest[name][1] for name in ("magnitude", "lamp", "taylor", "random")}
sensible = min(before[name] for name in ("magnitude", "lamp", "taylor"))
print(
    f"Right after pruning, random keeps {before['random']:.1%} and the weakest of magnitude, "
    f"LAMP and Taylor {sensible:.1%}: random is "
    + ("below every sensible criterion." if before["random"] < sensible else "NOT below them.")
)
merged, by_norm = nearest["neurons, merged"][2], nearest["neurons, L1"][2]
print(
    f"Merging neurons ends at {merged:.1%}, dropping them by norm at {by_norm:.1%}: merging "
    + ("keeps more." if merged > by_norm else "does not keep more in this run.")
    + f" ({one_image(len(data.test))}.)"
)

# %% [markdown]
# What to notice:
#
# * **Right after pruning**, the criteria differ a lot: the better a criterion picks, the less
#   accuracy falls. Where random lands against the sensible criteria is printed above
#   (movement is a special case, see the last point).
# * **One epoch of fine-tuning** closes much of the gap at moderate sparsity, which is why
#   comparisons are only fair at an *equal fine-tuning budget*.
# * Dropping **whole neurons** by their norm costs more accuracy than removing the same number
#   of single weights by magnitude: the choice is coarser. What it buys is speed (lesson 02).
# * **Merging** can keep more accuracy than dropping neurons by their norm (compare the two
#   lines printed above), because it hands the work of each removed neuron to its most
#   similar neighbour.
# * **Movement** does badly here, and that is worth understanding. Its scores record how
#   training moves each weight. That says a lot when a pre-trained model is being adapted to
#   a new task, which is what it was designed for; it says little about a model that has
#   already converged on this very task, whose weights hardly move any more.
#
# One seed and one epoch make a noisy picture, though. The full study below is the one to
# quote.
#
# ## 7 · The full study, read from `benchmarks/results/criteria.json`
#
# `python benchmarks/bench_criteria.py` trains the dense models once per seed, prunes a copy
# with every criterion, fine-tunes each for the same number of epochs and records the test
# accuracy. Running it takes minutes, so here we only read what it saved.

# %%
study = json.loads(pl.saved_result("criteria.json").read_text())
settings = study["settings"]
print(
    f"{settings['seeds']} seeds; MLP trained {settings['mlp_epochs']} epochs and CNN "
    f"{settings['cnn_epochs']}; every pruned model fine-tuned {settings['fine_tune_epochs']} "
    f"epochs; dense MLP {statistics.fmean(study['dense_accuracy']['MLP']):.1%}, dense CNN "
    f"{statistics.fmean(study['dense_accuracy']['CNN']):.1%} test accuracy (means over seeds)"
)

STUDY_FAMILY = {  # (granularity, label in the file) -> family
    ("weights", "magnitude, global"): "magnitude",
    ("weights", "LAMP"): "magnitude",
    ("weights", "Taylor, global"): "gradient",
    ("weights", "SNIP (at init, then trained)"): "gradient",
    ("weights", "movement"): "gradient",
    ("weights", "random"): "random",
    ("neurons", "L1"): "structural",
    ("neurons", "merge redundant (weights)"): "redundancy",
    ("neurons", "merge redundant (activations)"): "redundancy",
    ("neurons", "random"): "random",
    ("channels", "L1"): "structural",
    ("channels", "BN scale"): "structural",
    ("channels", "FPGM"): "redundancy",
    ("channels", "Taylor"): "gradient",
    ("channels", "random"): "random",
}


def weights_removed(row: dict) -> float:
    """Share of the MLP's weights a row removed, from the sizes the file records."""
    kept = row["kept"][0]
    if row["granularity"] == "weights":
        return 1 - sum(kept.values()) / dense_weights
    sizes = [model.fc1.in_features, *kept, model.fc3.out_features]
    return 1 - nonzero_weights(pl.mlp(sizes)) / dense_weights


curves = study_curves(
    study, STUDY_FAMILY, lambda r: weights_removed(r) if r["model"] == "MLP" else r["sparsity"]
)
study_panels(
    {"MLP: weights and neurons": curves["MLP"], "CNN: channels": curves["CNN"]},
    dense={
        "MLP: weights and neurons": statistics.fmean(study["dense_accuracy"]["MLP"]),
        "CNN: channels": statistics.fmean(study["dense_accuracy"]["CNN"]),
    },
    xlabels={
        "MLP: weights and neurons": "share of the weights removed (%)",
        "CNN: channels": "share of every layer's channels removed (%)",
    },
)
plt.show()


def spread_text(values: list[float]) -> str:
    mean, std = spread(values)
    return f"{mean:.1%} +- {std:.1%}"


top = max(settings["sparsities"])
print(f"MLP weights at {top:.0%} sparsity, test accuracy after fine-tuning (mean +- std):")
weight_rows = [study_row(study, "MLP", g, c, top) for g, c in STUDY_FAMILY if g == "weights"]
for r in sorted(weight_rows, key=lambda r: -statistics.fmean(r["after"])):
    print(f"  {r['criterion']:30s} {spread_text(r['after'])}")
print("CNN channels, test accuracy after fine-tuning, random against the channel criteria:")
for level in settings["sparsities"]:
    cnn_rows = [study_row(study, "CNN", g, c, level) for g, c in STUDY_FAMILY if g == "channels"]
    means = {r["criterion"]: statistics.fmean(r["after"]) for r in cnn_rows}
    chosen = {name: mean for name, mean in means.items() if name != "random"}
    print(f"  {level:.0%} of the channels removed: {rank_among('random', means['random'], chosen)}")
low = min(settings["sparsities"])
print(f"CNN at {low:.0%} of its channels removed, test accuracy before fine-tuning:")
for g, c in STUDY_FAMILY:
    if g == "channels":
        r = study_row(study, "CNN", g, c, low)
        print(
            f"  {c:8s} stale BatchNorm statistics {statistics.fmean(r['before']):.1%}, "
            f"recalibrated {statistics.fmean(r['recalibrated']):.1%}"
        )
best_recalibrated = max(
    statistics.fmean(study_row(study, "CNN", g, c, low)["recalibrated"])
    for g, c in STUDY_FAMILY
    if g == "channels"
)
print(
    "Recalibration recovers much of the accuracy here: compare the criteria after it."
    if best_recalibrated >= 0.5
    else f"Even recalibrated, no criterion passes {best_recalibrated:.1%}: with "
    f"{low:.0%} of the channels gone the network itself is broken, so compare the criteria "
    "after fine-tuning."
)

# %% [markdown]
# Read the plots the way a reviewer would:
#
# * Look at **where curves separate**: at moderate sparsity every sensible criterion recovers
#   after fine-tuning; the differences show at the high end.
# * Compare every method to **random at the same x**. The gap is what the criterion is worth.
#   On the CNN, read at which levels random channels land among the channel criteria
#   (printed above): where random is among them, *how many* channels each layer keeps matters
#   more than *which*; where it falls below all of them (at the highest level of the study),
#   the choice of channels starts to matter.
# * The **error bars** are the spread over seeds. Two curves whose bars overlap are not
#   clearly different.
# * Look at where **SNIP** lands: it prunes before any training, and on a small network that
#   gets a full training run afterwards, the sparse network has time to adapt to its mask.
#   Do not generalise from this toy: at scale, Frankle et al. (2021, "Pruning Neural
#   Networks at Initialization: Why are We Missing the Mark?") found pruning at
#   initialisation below magnitude pruning after training, and shuffling SNIP's mask within
#   each layer did not hurt it, so what it really chooses is *how many* weights each layer
#   keeps.
# * Random channels landing among the CNN criteria at moderate levels is a known result:
#   Liu et al. (2019, "Rethinking the Value of Network Pruning") found that, for structured
#   pruning, the pruned architecture (how many channels each layer keeps) carries most of the
#   value, and training it from scratch often matches the pruned-and-fine-tuned network.
# * The CNN's accuracy **before fine-tuning** says little about its criterion: every
#   BatchNorm layer still normalises with the dense network's running statistics.
#   `pl.recalibrate_bn` re-estimates them without a gradient step (lesson 03); the last lines
#   printed above show what that changes at the study's mildest channel sparsity, and
#   whether the criteria are better compared after recalibration or only after fine-tuning.
#
# ## 8 · Explore: move the amount
#
# Drag the slider (it recomputes when you let go) to prune the same model with four
# criteria at the chosen amount, *without* fine-tuning: the bars are each criterion's test
# accuracy. The cell below the slider shows the default amount for readers without a kernel.

# %% tags=["nbval-ignore-output"]
from pruning_lessons.teaching.explorers.criteria import (
    criteria_effect,
    criteria_explorer,
    draw_criteria,
)

criteria_explorer(model, data)

# %%
effect = criteria_effect(model, data, 0.9)
print(effect)
draw_criteria(effect)
plt.show()

# %% [markdown]
# ## Exercise: the LAMP score
#
# LAMP (Lee et al. 2021) makes magnitudes comparable across layers: sort one layer's squared
# weights from small to large; a weight's score is its square divided by the sum of the
# squares from it to the end (itself included). The largest weight of every layer scores 1.
# Among equal weights, the lower index comes first.

# %%
from pruning_lessons.teaching.exercises.lessons import lesson04 as ex1


# %% exercise="04.ex1"
def lamp(weight: torch.Tensor) -> torch.Tensor:
    """LAMP score of every weight of one layer, in the weight's shape."""
    ### BEGIN SOLUTION
    squares = weight.reshape(-1).square()
    order = torch.argsort(squares, stable=True)
    ordered = squares[order]
    at_or_after = ordered.flip(0).cumsum(0).flip(0)
    scores = torch.zeros_like(squares)
    scores[order] = torch.where(at_or_after > 0, ordered / at_or_after, 0.0)
    return scores.reshape(weight.shape)
    ### END SOLUTION


# %%
ex1.check(lamp)

# %%
lamp = ex1.use(lamp)
library_scores = pl.lamp_scores(model)
for name, w in pl.prunable_parameters(model).items():
    mine = lamp(w.detach())
    same = torch.allclose(mine, library_scores[name], atol=1e-6)
    print(f"{name}: largest score {mine.max():.3f}, same as pl.lamp_scores: {same}")


# %% [markdown]
# <!-- model-answer -->
# ## 60-second answer · 60 秒回答
#
# **60-second answer** (as you would say it in an interview)
#
# > "I sort pruning methods by the evidence they use. **Magnitude** pruning removes the
# > smallest weights; it is nearly free and, ranked globally, a strong baseline; LAMP rescales
# > the scores per layer so a global cut never empties a layer. **Structural** pruning scores
# > whole neurons, filters or layers, for example by their weight norm or BatchNorm scale
# > (Network Slimming also puts an L1 penalty on those scales during training), and removes
# > them, so the network really shrinks and runs faster, at some cost in accuracy.
# > **Redundancy** methods remove units that others can replace: merging near-duplicate
# > neurons into one, or FPGM, which drops the filters closest to the layer's geometric
# > median. **Gradient-based** methods estimate the change in loss: Taylor uses
# > (gradient x weight) squared, SNIP does that at initialisation to prune before training,
# > movement keeps the weights fine-tuning pushes away from zero. The oldest family is
# > **second-order**: OBD and OBS score a weight by the curvature (Hessian) of the loss, and
# > SparseGPT descends from OBS, with the Hessian of each layer's reconstruction error
# > instead of the loss. **Reconstruction** methods such as ThiNet remove the channels the
# > next layer can best do without and refit that layer by least squares on sample inputs.
# > Whatever the method, I compare it with random pruning at the same sparsity and the same
# > fine-tuning budget, over several seeds; simple magnitude criteria are surprisingly hard
# > to beat."
#
# **60 秒回答**（面试时可以这样说）
#
# > “我按方法所依据的信息来给剪枝方法分类。幅值剪枝删除最小的权重，几乎不花代价，全局排序时是很强的基线；LAMP 在每层内重新缩放分数，保证全局剪枝不会把某一层剪空。结构化剪枝给整个神经元、滤波器或层打分，例如用权重范数或 BatchNorm 的缩放系数（Network Slimming 还在训练时对这些系数加 L1 惩罚），然后删除它们，网络真正变小、变快，但要付出一些准确率。基于冗余的方法删除可以被其他单元替代的单元：把几乎相同的神经元合并成一个，或者用 FPGM 删除最靠近该层几何中位数的滤波器。基于梯度的方法估计损失的变化：Taylor 用（梯度 × 权重）的平方，SNIP 在初始化时就这样打分，在训练之前剪枝，移动剪枝保留微调中朝远离零的方向变化的权重。最早的是二阶方法 OBD 和 OBS，它们用损失的曲率（Hessian）打分；SparseGPT 就源于 OBS，只是用的是每层重建误差的 Hessian，而不是损失的。基于重建的方法（如 ThiNet）删除下一层最不依赖的通道，再在样本输入上用最小二乘重新拟合这一层。无论哪种方法，我都会在相同稀疏度、相同微调预算、多个随机种子下与随机剪枝比较；简单的幅值准则出人意料地难以超越。”

# %% [markdown]
# ## Check yourself
#
# 1. Why does every comparison of criteria need a random baseline, and what must be equal
#    between the baseline and the method?
# 2. Taylor and magnitude both give each weight a score. What does Taylor use that magnitude
#    does not, and what does that cost?
# 3. Why does removing whole neurons cost more accuracy than removing the same number of
#    weights, and why would you do it anyway?
# 4. Two neurons of a layer have identical incoming weights and biases. How do you remove one
#    without changing the network's output?
# 5. SNIP scores an untrained network. What does pruning before training save, and what is
#    the risk?
#
# <details><summary>Answers</summary>
#
# 1. Random pruning shows how much accuracy the *amount* of pruning costs by itself; only the
#    gap above it is due to the criterion. Same sparsity, same model, same fine-tuning budget
#    (and several seeds), or the comparison measures the budget instead of the criterion.
# 2. The gradient of the loss, so it needs data and backward passes (more time and memory);
#    in return it sees how much the loss depends on the weight, not just its size.
# 3. A neuron is removed with all its weights, good and bad together, so the choice is
#    coarser. But the result is a smaller dense network: fewer MACs, real speed-ups and a
#    smaller file on ordinary hardware, which scattered zeros do not give.
# 4. Merge them: delete one and add its outgoing weights to the other's. Both computed the
#    same activation, so the next layer receives exactly the same sum.
# 5. It saves training the dense network first: you train only the sparse one. The risk is
#    that one batch on random weights is a noisy guide; the choice is made once and never
#    revised, and it can leave layers badly connected at high sparsity.
#
# </details>
