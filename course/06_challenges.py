# %% [markdown]
# # 06 · The challenges of pruning

# %% [markdown]
# <!-- bilingual-box -->
# > **The question** · **问题**
# >
# > **EN** What are the challenges of pruning?
# >
# > **中文** 剪枝面临哪些挑战？
# >
# > **Three takeaways** · **三个要点**
# >
# > 1. Accuracy loss grows fast at high sparsity: report whole curves before and after fine-tuning.
# >    <br>稀疏度很高时准确率损失迅速增大：应报告微调前后完整的准确率–稀疏度曲线。
# > 2. Fine-tuning dominates the cost, and one seed is not a result: trust only gaps larger than
# > the spread.
# >    <br>微调占了大部分成本；单个随机种子不算结论，只有超出波动范围的差距才可信。
# > 3. Choose per-layer ratios with a sensitivity scan on the validation set, and check the layers
# > together.
# >    <br>用验证集上的敏感度分析来选择每层的剪枝比例，并检查各层一起剪枝后的效果。

# %% [markdown]
# **The interview question:** *What are the challenges of pruning?*
#
# Five problems come up in almost every pruning project:
#
# 1. **Accuracy loss**: pruning removes capacity; fine-tuning wins some of it back, not always
#    all of it.
# 2. **Computational cost**: scoring and pruning are cheap, but fine-tuning is not, and some
#    criteria need gradients or even several full trainings.
# 3. **Stability**: a result from one seed can be luck.
# 4. **Generalisation**: a pruned model that matches the dense one on the clean test set may
#    fail sooner on noisy or shifted inputs.
# 5. **Per-layer ratios**: layers differ in how much pruning they can take, so one ratio for
#    all layers is rarely the best choice.
#
# Each is measured below on the digits MLP: live where that takes seconds, and from the saved
# benchmark results where a study takes minutes (`python benchmarks/bench_criteria.py` wrote
# `benchmarks/results/criteria.json`, `python benchmarks/bench_pipeline.py` wrote
# `pipeline.json`).

# %%
import copy
import json
import statistics

import matplotlib.pyplot as plt
import torch

import pruning_lessons as pl
from pruning_lessons.teaching.narrate import stale_bn_verdict
from pruning_lessons.teaching.plots import bars
from pruning_lessons.weights.analysis import (
    Sensitivity,
    amounts_for_budget,
    over_seeds,
    perturbed_accuracy,
    sensitivity_scan,
)
from pruning_lessons.weights.pipeline import prune_and_fine_tune, train_dense

data = pl.load_digits(seed=0)
model, record = train_dense(pl.mlp, data, epochs=30, seed=0)
print(f"dense MLP: {record.dense_accuracy:.1%} test accuracy")

criteria = json.loads(pl.saved_result("criteria.json").read_text())
pipeline = json.loads(pl.saved_result("pipeline.json").read_text())


def rows(model_name: str, granularity: str, criterion: str) -> list[dict]:
    """The rows of criteria.json for one criterion, by increasing sparsity."""
    found = [
        r
        for r in criteria["rows"]
        if (r["model"], r["granularity"], r["criterion"]) == (model_name, granularity, criterion)
    ]
    return sorted(found, key=lambda r: r["sparsity"])


def mean(values: list[float]) -> float:
    return statistics.fmean(values)


def std(values: list[float]) -> float:
    return statistics.pstdev(values)


# %% [markdown]
# ## 1 · Accuracy loss, before and after fine-tuning
#
# The criteria study recorded every pruned model twice: right after pruning and after the
# same fine-tuning budget. Dashed lines are before, solid lines after (mean and spread over
# the seeds).

# %%
shown = ("magnitude, global", "LAMP", "Taylor, global", "random")
dense = mean(criteria["dense_accuracy"]["MLP"])
colours = dict(zip(shown, ("C0", "C1", "C2", "C7"), strict=True))
figure, ax = plt.subplots(figsize=(9, 4), layout="constrained")
for criterion, colour in colours.items():
    found = rows("MLP", "weights", criterion)
    xs = [100 * r["sparsity"] for r in found]
    for key, style in (("before", "--"), ("after", "-")):
        ax.errorbar(
            xs,
            [100 * mean(r[key]) for r in found],
            yerr=[100 * std(r[key]) for r in found],
            color=colour,
            linestyle=style,
            marker="o",
            capsize=3,
            label=f"{criterion}, {key}",
        )
ax.axhline(100 * dense, color="grey", linestyle=":", label="dense")
ax.set(xlabel="sparsity (%)", ylabel="test accuracy (%)", title="MLP weights, from criteria.json")
ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
plt.show()

epochs = criteria["settings"]["fine_tune_epochs"]
print(f"Points lost against the dense model ({dense:.1%}), before -> after {epochs} epochs:")
for criterion in shown:
    losses = ", ".join(
        f"{r['sparsity']:.0%}: {100 * (dense - mean(r['before'])):.1f} -> "
        f"{100 * (dense - mean(r['after'])):.1f}"
        for r in rows("MLP", "weights", criterion)
    )
    print(f"  {criterion:18s} {losses}")
one_shot, cubic = (pipeline["mlp"]["magnitude"][s]["0.98"] for s in ("one-shot", "cubic"))
print(
    f"pipeline.json, magnitude at 98 %: one-shot {one_shot['mean']:.1%}, cubic schedule "
    f"{cubic['mean']:.1%} with the same fine-tuning budget"
)

# %% [markdown]
# For a network with **BatchNorm**, "right after pruning" hides a trap. Removing channels changes
# the activations every BatchNorm layer sees, but its running mean and variance still describe the
# dense network, so the pruned CNN loses far more accuracy than its channels deserve, even when they
# were well chosen. `pl.recalibrate_bn(model, data)` re-estimates the statistics with one pass of
# training data in train mode, without a gradient step. The pipeline study removes half of the CNN's
# channels; the criteria study removes far more, and records the CNN three times:

# %%
half = pipeline["cnn_channels_50"]
print(
    "pipeline.json, CNN with 50 % of its channels removed, test accuracy (means over "
    f"{len(half['after_pruning']['values'])} seeds): "
    + stale_bn_verdict(
        half["after_pruning"]["mean"],
        half["after_recalibration"]["mean"],
        half["dense"]["mean"],
        10,
    )
)
print(
    f"  spread over seeds: stale {half['after_pruning']['std']:.1%}, recalibrated "
    f"{half['after_recalibration']['std']:.1%}; fine-tuned {half['fine_tuned']['mean']:.1%}"
)
print("criteria.json, CNN channels, test accuracy: stale statistics -> recalibrated -> fine-tuned")
for criterion in ("L1", "BN scale", "random"):
    for r in rows("CNN", "channels", criterion):
        print(
            f"  {criterion:9s} {r['sparsity']:.0%}: {mean(r['before']):.1%} -> "
            f"{mean(r['recalibrated']):.1%} -> {mean(r['after']):.1%}"
        )
cnn_rows = [r for r in criteria["rows"] if r["model"] == "CNN"]
helped = sum(mean(r["recalibrated"]) > mean(r["before"]) for r in cnn_rows)
print(f"recalibration raised the accuracy in {helped} of {len(cnn_rows)} CNN rows")
best = max(mean(r["recalibrated"]) for r in cnn_rows)
gain = half["after_recalibration"]["mean"] - half["after_pruning"]["mean"]
print(
    f"At 50 % of the channels, recalibration alone adds {100 * gain:.1f} points: "
    + ("the stale number mostly measured the statistics. " if gain > 0.1 else "little. ")
    + f"With {min(criteria['settings']['sparsities']):.0%} or more of the channels gone, "
    f"the best recalibrated row reaches {best:.1%}: "
    + (
        "the network itself is broken there, and only fine-tuning tells the criteria apart."
        if best < 0.5
        else "compare the criteria after recalibration."
    )
)

# %% [markdown]
# So for BatchNorm networks, never read a criterion off stale statistics (their accuracy also
# varies widely from seed to seed): recalibrate first, and where even that leaves the network
# broken, compare after fine-tuning.
#
# Fine-tuning recovers most of the loss at moderate sparsity. Past some point it cannot: the
# network simply lacks the capacity, and the criterion and the schedule matter more and more
# (lesson 05). The honest way to report a pruning result is therefore the whole curve, both
# before and after fine-tuning, not one flattering point.
#
# ## 2 · Computational cost
#
# How long did each criterion take to *score* the network (median over seeds, from the same
# file)? Note the logarithmic axis. Movement is left out: reading its scores costs nothing,
# because they are recorded during fine-tuning epochs, which is where its cost hides.

# %%
score_seconds = {}
for r in criteria["rows"]:
    if r["criterion"] == "movement":
        continue
    if r["model"] == "MLP" or r["criterion"] in ("L1", "FPGM", "Taylor", "BN scale"):
        score_seconds[f"{r['model']} {r['granularity']}: {r['criterion']}"] = r[
            "score_seconds_median"
        ]
ordered = dict(sorted(score_seconds.items(), key=lambda item: item[1]))
figure, ax = plt.subplots(figsize=(7, 4.6), layout="constrained")
ax.barh(list(ordered), [1e3 * s for s in ordered.values()], color="#4c72b0")
ax.set(xscale="log", xlabel="milliseconds to score (log scale)", title="Scoring time")
ax.tick_params(axis="y", labelsize=7)
plt.show()
slowest, fastest = max(ordered, key=ordered.get), min(ordered, key=ordered.get)
print(
    f"fastest: {fastest} ({1e3 * ordered[fastest]:.2f} ms); slowest: {slowest} "
    f"({1e3 * ordered[slowest]:.0f} ms)"
)

# %% [markdown]
# Even the slowest scoring is quick on a model this size. Now the full bill for one pruning
# run, live: the `Record` of the pipeline times each step.

# %%
pruned_amount = 0.9
pruned = copy.deepcopy(model)
run = copy.deepcopy(record)
prune_and_fine_tune(pruned, data, run, sparsity=pruned_amount, fine_tune_epochs=5)
seconds = {
    step: sum(s.seconds for s in run.steps if s.step == step)
    for step in ("train", "prune", "fine-tune")
}
ax = bars(seconds, ylabel="seconds")
ax.set_title(f"Where the time goes: pruning {pruned_amount:.0%} of the weights")
plt.show()
print(
    f"fine-tuning took {seconds['fine-tune'] / seconds['prune']:,.0f} times as long as pruning; "
    f"accuracy {run.final_accuracy:.1%}"
)
settings = pipeline["settings"]
ticket_epochs = (settings["rounds"] + 1) * settings["train_epochs"]
print(
    f"In pipeline.json, a lottery ticket costs {ticket_epochs} training epochs in all; training "
    f"once and fine-tuning cost {settings['train_epochs'] + settings['fine_tune_epochs']}."
)

# %% [markdown]
# So the cost of pruning is mostly the cost of **recovering** from it. On a large model that
# means GPU-days of fine-tuning, which is why one-shot methods that need little or no
# retraining are an active research topic, and why a gradient criterion's extra backward
# passes are usually a small price next to the fine-tuning.
#
# ## 3 · Stability: one seed is not a result
#
# From the files first: the spread (standard deviation) over seeds before and after
# fine-tuning, at each sparsity. Mind the two different scales.

# %%
figure, axes = plt.subplots(1, 2, figsize=(11, 3.2), layout="constrained")
for ax, key in zip(axes, ("before", "after"), strict=True):
    for i, (criterion, colour) in enumerate(colours.items()):
        found = rows("MLP", "weights", criterion)
        ax.bar(
            [j + (i - 1.5) * 0.2 for j in range(len(found))],
            [100 * std(r[key]) for r in found],
            width=0.2,
            color=colour,
            label=criterion,
        )
    ax.set(
        xticks=range(len(found)),
        xticklabels=[f"{r['sparsity']:.0%}" for r in found],
        xlabel="sparsity",
        ylabel="std over seeds (points)",
        title=f"{key} fine-tuning",
    )
axes[0].legend(fontsize=8)
plt.show()

before = mean([std(r["before"]) for c in shown for r in rows("MLP", "weights", c)])
after = mean([std(r["after"]) for c in shown for r in rows("MLP", "weights", c)])
print(
    f"average spread over these rows: {100 * before:.1f} points before fine-tuning, "
    f"{100 * after:.1f} after ({criteria['settings']['seeds']} seeds)"
)
print(
    f"pipeline.json at 98 %: one-shot +- {100 * one_shot['std']:.1f} points, cubic +- "
    f"{100 * cubic['std']:.1f}"
)

# %% [markdown]
# Right after pruning, accuracy swings by many points from seed to seed; fine-tuning narrows
# that, but at the hardest settings the spread stays large. `over_seeds(experiment, seeds)`
# runs any experiment once per seed and reports mean +- standard deviation. Two cheap ones,
# live: random pruning of the same trained model with different seeds, and the whole recipe
# (short training, then magnitude pruning) with different training seeds.

# %%
random_amount = 0.5


def random_pruning(seed: int) -> float:
    trial = copy.deepcopy(model)
    pl.random_prune(trial, random_amount, scope="global", seed=seed)
    return pl.evaluate(trial, data.test)


def whole_recipe(seed: int) -> float:
    pl.seed_everything(seed)
    trial = pl.mlp()
    pl.fit(trial, data, epochs=10, seed=seed, progress=False)
    pl.magnitude_prune(trial, pruned_amount, scope="global")
    return pl.evaluate(trial, data.test)


spreads = {
    f"random {random_amount:.0%}, same model": over_seeds(random_pruning, seeds=range(1, 6)),
    f"train + magnitude {pruned_amount:.0%}": over_seeds(whole_recipe, seeds=range(3)),
}
figure, ax = plt.subplots(figsize=(6, 2.6), layout="constrained")
for row, (name, spread) in enumerate(spreads.items()):
    ax.plot([100 * v for v in spread.values], [row] * len(spread.values), "o", alpha=0.7)
    print(f"{name}: {spread}")
ax.set(
    yticks=range(len(spreads)),
    yticklabels=list(spreads),
    xlabel="test accuracy (%), one dot per seed",
    ylim=(-0.5, len(spreads) - 0.5),
)
plt.show()

# %% [markdown]
# This is why lessons 04 and 05 read their conclusions from several seeds: a difference
# between two methods means something only when it is larger than the spread of each.
#
# ## 4 · Generalisation: off the clean test set
#
# Accuracy on the clean test set is not the whole story. Here the dense model, the model
# pruned and fine-tuned above, and a model with half of its neurons removed (and fine-tuned
# for as many epochs) see the same test images with Gaussian noise added, and shifted by a few
# pixels (`perturb` / `perturbed_accuracy`).

# %%
neurons = pl.prune_units(model, 0.5)
pl.fine_tune(neurons, data, epochs=5, progress=False)
models = {
    "dense": model,
    f"{pl.sparsity(pruned):.0%} of weights": pruned,
    "half the neurons": neurons,
}
noise_levels = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
shifts = [0, 1, 2, 3]
figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True, layout="constrained")
for name, m in models.items():
    noisy = [perturbed_accuracy(m, data.test, "noise", s) for s in noise_levels]
    shifted = [perturbed_accuracy(m, data.test, "shift", s) for s in shifts]
    left.plot(noise_levels, [100 * a for a in noisy], marker="o", label=name)
    right.plot(shifts, [100 * a for a in shifted], marker="o", label=name)
left.set(xlabel="noise standard deviation", ylabel="test accuracy (%)", title="Gaussian noise")
right.set(xlabel="shift (pixels, at most)", title="Shifted digits", xticks=shifts)
left.legend()
plt.show()

for kind, strength in (("noise", 0.3), ("shift", 1)):
    clean = {name: pl.evaluate(m, data.test) for name, m in models.items()}
    hit = {name: perturbed_accuracy(m, data.test, kind, strength) for name, m in models.items()}
    drops = ", ".join(f"{n} {100 * (clean[n] - hit[n]):.1f}" for n in models)
    print(f"{kind} {strength}: points lost against clean data: {drops}")

# %% [markdown]
# Whether pruning makes a model more fragile depends on the model, the method and how much
# was removed, and the effect can be small or large; on clean data alone you would not see
# it either way. If the deployed model will meet noisy, shifted or otherwise different
# inputs, evaluate the pruned model on such inputs too, and compare it with the dense one.
#
# Drag the slider (it redraws when you let go): the digits as the models see them, and each
# model's accuracy. The cell below it shows the default strength for readers without a kernel.

# %% tags=["nbval-ignore-output"]
from pruning_lessons.teaching.explorers.noise import (
    draw_noise,
    draw_noisy_digits,
    noise_effect,
    noise_explorer,
)

noise_explorer(models, data.test)

# %%
effect = noise_effect(models, data.test, 0.3)
print(effect)
draw_noisy_digits(data.test, 0.3)
draw_noise(effect)
plt.show()

# %% [markdown]
# ### What a pruned model forgets
#
# A top-line accuracy can also hide *which* examples pay. Hooker et al. (2019, "What Do
# Compressed Deep Neural Networks Forget?") found that pruning a network hurts a small set of
# examples and classes far more than the rest, often the rare and atypical ones, while the
# average barely moves. The same check on the digits: prune a copy to 95 % (global magnitude,
# 5 epochs of fine-tuning), then compare it with the dense model class by class and image by
# image.

# %%
heavy = copy.deepcopy(model)
pl.prune_weights(heavy, 0.95, criterion="magnitude", scope="global")
pl.fine_tune(heavy, data, epochs=5, progress=False)
images, labels = data.test.tensors
with torch.no_grad():
    right_dense = model.eval()(images).argmax(1) == labels
    right_heavy = heavy.eval()(images).argmax(1) == labels
forgotten = right_dense & ~right_heavy
print(
    f"dense {right_dense.float().mean():.1%}, pruned to 95 % {right_heavy.float().mean():.1%}: "
    f"{int(forgotten.sum())} test images forgotten, "
    f"{int((~right_dense & right_heavy).sum())} newly right"
)
per_class = []
for digit in range(10):
    mine = labels == digit
    per_class.append(
        (
            int(forgotten[mine].sum()),
            digit,
            right_dense[mine].float().mean().item(),
            right_heavy[mine].float().mean().item(),
        )
    )
for lost, digit, before, after in sorted(per_class, reverse=True):
    print(f"  digit {digit}: {before:6.1%} -> {after:6.1%}  ({lost} forgotten)")
top = sorted(per_class, reverse=True)[:2]
share = sum(t[0] for t in top) / max(1, int(forgotten.sum()))
smallest = min(int((labels == d).sum()) for d in range(10))
print(
    f"the two digits with the most forgotten images (digits {top[0][1]} and {top[1][1]}) hold "
    f"{share:.0%} of them, against 20 % if the losses were spread evenly; with at least "
    f"{smallest} test images per digit, one image is at most {100 / smallest:.1f} points of a "
    "digit's accuracy"
)

# %% [markdown]
# With a few dozen images per digit this is a small-sample picture (one seed, too), so read the
# counts, not the decimals. The lesson it carries is general: report per-class (or per-group)
# accuracy next to the average, and look at the images the pruned model gets wrong that the
# dense model got right. For a language model the same holds with other words: perplexity is an
# average over tokens, and a pruned LLM can keep its perplexity while losing knowledge-heavy
# answers.
# ### Layer collapse
#
# Global pruning ranks all weights together, so at high sparsity it can starve a whole layer.
# Tanaka et al. (2020, SynFlow) call the extreme case **layer collapse**: once a layer keeps
# nothing, no signal gets through, whatever the other layers keep. The last layer of this MLP
# has only 1,000 weights. Below, an output digit counts as *reachable* if some chain of
# surviving weights links it to an input pixel; LAMP (lesson 04) rescales scores per layer so
# that a global cut cannot empty a layer.


# %%
def reachable_outputs(masks: dict) -> int:
    """Output units linked to some input by a chain of kept weights."""
    reach = torch.ones(masks["fc1.weight"].shape[1], dtype=torch.bool)
    for name in ("fc1.weight", "fc2.weight", "fc3.weight"):
        reach = (masks[name].float() @ reach.float()) > 0
    return int(reach.sum())


results = {}
for amount in (0.98, 0.99):
    for criterion in ("magnitude", "lamp"):
        collapsed = copy.deepcopy(model)
        masks = pl.prune_weights(collapsed, amount, criterion=criterion, scope="global")
        kept = ", ".join(f"{n.split('.')[0]} {int(k.sum())}" for n, k in masks.items())
        pl.fine_tune(collapsed, data, epochs=5, progress=False)
        print(
            f"{amount:.0%} {criterion:9s} kept weights: {kept}; reachable digits "
            f"{reachable_outputs(masks)} of 10; accuracy after fine-tuning "
            f"{pl.evaluate(collapsed, data.test):.1%}"
        )
        results[amount, criterion] = (masks["fc3.weight"].sum().item(), reachable_outputs(masks))
        results[amount, criterion] += (pl.evaluate(collapsed, data.test),)
for level in sorted({a for a, _ in results}):
    (mag_fc3, mag_reach, mag_acc), (lamp_fc3, _, lamp_acc) = (
        results[level, c] for c in ("magnitude", "lamp")
    )
    print(
        f"At {level:.0%}: "
        + (
            f"global magnitude disconnected {10 - mag_reach} digits (layer collapse); "
            if mag_reach < 10
            else "no layer emptied completely (every digit stays reachable), but "
        )
        + f"global magnitude left the last layer {int(mag_fc3)} weights against LAMP's "
        f"{int(lamp_fc3)}, and ends at {mag_acc:.1%} against {lamp_acc:.1%}"
    )

# %% [markdown]
# In deeper networks, and at still higher sparsity, a layer can empty completely. The
# remedies differ in where they act: a per-layer floor or LAMP's per-layer rescaling keep
# every layer some weights, and SynFlow scores weights without data so that the flow through
# every layer is preserved when pruning at initialisation.

# %% [markdown]
# ## 5 · Choosing per-layer ratios: sensitivity analysis
#
# Layers are not equally important. A **sensitivity scan** (Li et al. 2017) prunes one layer at
# a time, at several amounts, and watches the accuracy. Do it on the **validation** set: the
# test set must stay untouched by every choice, or its accuracy is no longer an honest
# estimate. (For structured pruning, layers whose units are coupled, for example through a
# residual addition, must be scanned together.)

# %%
scan = sensitivity_scan(model, data.val)
print(scan)

# %% [markdown]
# `amounts_for_budget(scan, max_drop)` then gives each layer the largest scanned amount whose
# accuracy stayed within `max_drop` of the baseline. A tiny hand-made scan shows the rule
# (this cell's output is pinned by the tests): layer `b` is more sensitive, so it gets less.

# %% tags=["nbval-check-output"]
toy = Sensitivity(
    amounts=(0.0, 0.5, 0.9),
    accuracy={"a": [0.97, 0.97, 0.80], "b": [0.97, 0.95, 0.60]},
    baseline=0.97,
)
print(amounts_for_budget(toy, 0.01))
print(amounts_for_budget(toy, 0.05))

# %% [markdown]
# Now the real scan. The slider sets the accuracy drop allowed *per layer*; the stars show
# the amounts it picks, and the line above the plot what happens when all layers are pruned
# to those amounts *together* (on the validation set). The cell below the slider shows a
# budget of one point, for readers without a kernel.

# %% tags=["nbval-ignore-output"]
from pruning_lessons.teaching.explorers.layer_ratio import (
    draw_sensitivity,
    layer_ratio_effect,
    layer_ratio_explorer,
)

layer_ratio_explorer(model, data.val, scan)

# %%
chosen = layer_ratio_effect(model, data.val, scan, 0.01)
print(chosen)
draw_sensitivity(scan, chosen.amounts)
plt.show()

# %% [markdown]
# The drops of single layers do not simply add up: pruning all layers together usually costs
# more than the worst layer alone. Is the sensitivity-based choice worth it? Compare it, on
# the **test** set, with two simpler ways of reaching the same overall sparsity: the same
# share in every layer, and one global magnitude ranking.

# %%
by_ratio = copy.deepcopy(model)
for name, amount in chosen.amounts.items():
    pl.magnitude_prune(by_ratio, amount, parameters=[name])
overall = pl.sparsity(by_ratio)
uniform, global_cut = copy.deepcopy(model), copy.deepcopy(model)
pl.magnitude_prune(uniform, overall, scope="layer")
pl.magnitude_prune(global_cut, overall, scope="global")
test_accuracy = {}
for name, m in (("per-layer ratios", by_ratio), ("same share", uniform), ("global", global_cut)):
    test_accuracy[name] = pl.evaluate(m, data.test)
    print(
        f"{name:16s} {pl.sparsity(m):.1%} of the weights pruned: "
        f"{test_accuracy[name]:.1%} test accuracy (no fine-tuning)"
    )
best = max(test_accuracy, key=test_accuracy.get)
gap = test_accuracy[best] - test_accuracy["per-layer ratios"]
images = round(gap * len(data.test))
if best == "per-layer ratios" or images == 0:
    print("The sensitivity-based ratios do at least as well as the simpler choices here.")
else:
    print(
        f"Here {best} beats the sensitivity-based ratios by {100 * gap:.1f} points "
        f"({images} of {len(data.test)} test images). Reasons worth knowing: the scan "
        f"tried only the amounts {list(scan.amounts)}, so each layer's ratio is rounded down "
        f"to that grid; it measured each layer with the others intact, and the drops do not "
        f"add up; and it chose on the validation set ({len(data.val)} images), where one "
        f"image is {100 / len(data.val):.2f} points, so its choices carry that noise."
    )

# %% [markdown]
# Per-layer ratios from a scan protect the sensitive layers, and a global ranking does
# something similar implicitly, through the weights' sizes. Which one wins at a given
# sparsity is printed above for this model; on deep networks, whose layers differ much more
# than these three, such per-layer choices matter more.


# %% [markdown]
# ## Exercise: per-layer amounts within a parameter budget
#
# A deployment target is usually a number of weights, not an accuracy drop. Turn the scan
# into amounts that meet such a budget: use **one** accuracy tolerance for all layers, give
# each layer the largest scanned amount whose drop (baseline minus accuracy) is within it, and
# take the **smallest** tolerance (0 or one of the scan's drops) whose amounts leave at most
# `max_remaining` weights, counting `n - round(amount * n)` per layer. Raise `ValueError` when
# no tolerance fits.

# %%
from pruning_lessons.teaching.exercises.lessons import lesson06 as ex1


# %% exercise="06.ex1"
def amounts_within_budget(scan, sizes: dict, max_remaining: int) -> dict:
    """Per-layer amounts of the smallest common tolerance that leaves <= max_remaining weights."""
    ### BEGIN SOLUTION
    drops = {0.0} | {scan.baseline - acc for accs in scan.accuracy.values() for acc in accs}
    for tolerance in sorted(drops):
        amounts = {}
        for name, accs in scan.accuracy.items():
            within = [
                a
                for a, acc in zip(scan.amounts, accs, strict=True)
                if scan.baseline - acc <= tolerance
            ]
            amounts[name] = max(within, default=0.0)
        left = sum(sizes[name] - round(a * sizes[name]) for name, a in amounts.items())
        if left <= max_remaining:
            return amounts
    raise ValueError(f"no tolerance leaves at most {max_remaining} weights")
    ### END SOLUTION


# %%
ex1.check(amounts_within_budget)

# %%
amounts_within_budget = ex1.use(amounts_within_budget)
sizes = {name: p.numel() for name, p in pl.prunable_parameters(model).items()}
budget = round(0.3 * sum(sizes.values()))
chosen = amounts_within_budget(scan, sizes, budget)
left = sum(n - round(chosen[name] * n) for name, n in sizes.items())
print(f"budget {budget:,} of {sum(sizes.values()):,} weights -> {left:,} left with", chosen)


# %% [markdown]
# ## Capstone: prune to a budget
#
# Put the course together. Write `prune_to_budget(model, data)`: it receives the trained
# 64-300-100-10 MLP of this lesson and the digits data, and returns a model with **at most
# 5,000 non-zero parameters** (about 90 % of its 50,890 are zero; biases count too) that keeps
# **at least 95 % test accuracy**. Any criterion, schedule and fine-tuning you like; make your
# choices on `data.train` and `data.val`. The check runs your function on a fresh copy of the
# trained MLP, measures the result on the held-out `data.test`, and shows your numbers next to
# the reference solution's.

# %%
from pruning_lessons.teaching.exercises.capstone import capstone as ex2


# %% exercise="06.ex2"
def prune_to_budget(model, data):
    """Return the model with at most 5,000 non-zero parameters and >= 95 % test accuracy."""
    ### BEGIN SOLUTION
    weights = sum(p.numel() for p in pl.prunable_parameters(model).values())
    biases = pl.count_parameters(model) - weights
    pl.magnitude_prune(model, 1 - (5_000 - biases) / weights, scope="global")
    pl.fine_tune(model, data, epochs=5)
    return model
    ### END SOLUTION


# %%
ex2.check(prune_to_budget)


# %% [markdown]
# <!-- model-answer -->
# ## 60-second answer · 60 秒回答
#
# **60-second answer** (as you would say it in an interview)
#
# > "The first challenge is accuracy loss: every cut removes capacity, fine-tuning recovers
# > much of it at moderate sparsity but not at high sparsity, so I report whole
# > accuracy-versus-sparsity curves before and after fine-tuning; for a BatchNorm network I
# > recalibrate its statistics first, or the "after pruning" number mostly measures stale
# > statistics. The second is cost: scoring
# > is cheap, but fine-tuning, or the repeated training of lottery tickets, dominates the bill.
# > Third, stability: results vary from seed to seed, especially before fine-tuning, so I run
# > several seeds and only trust differences bigger than the spread. Fourth, generalisation:
# > a pruned model can match the dense one on clean data and still degrade differently under
# > noise or distribution shift, so I test it on perturbed inputs too. Fifth, choosing
# > per-layer ratios: layers differ in sensitivity, so I run a sensitivity scan on the
# > validation set, prune the tolerant layers harder, and check the combination, because the
# > single-layer drops don't add up, and at high sparsity global ranking can starve a whole
# > layer (layer collapse), which LAMP or a per-layer floor prevents. Last, averages hide who
# > pays: a pruned model loses some classes and atypical examples far more than others, so I
# > report per-class accuracy too."
#
# **60 秒回答**（面试时可以这样说）
#
# > “第一个挑战是准确率损失：每次剪枝都会减少模型容量，在中等稀疏度下微调能挽回大部分，在高稀疏度下不行，所以我会报告微调前后完整的准确率–稀疏度曲线；带 BatchNorm 的网络要先重新校准统计量，否则“剪枝后”的数字主要反映的是过时的统计量。第二是成本：打分很便宜，但微调，或者彩票假设那样反复训练，才是大头。第三是稳定性：结果随随机种子变化，微调前尤其明显，所以我用多个种子，只相信超出波动范围的差距。第四是泛化：剪枝后的模型在干净数据上可以和稠密模型一样好，但在噪声或分布偏移下退化的方式可能不同，所以还要在扰动后的输入上测试。第五是选择每层的剪枝比例：各层敏感程度不同，所以我在验证集上做敏感度分析，对不敏感的层剪得更多，并检查各层一起剪枝的效果，因为单层的准确率下降不能简单相加；在高稀疏度下，全局排序还可能把某一层几乎剪空（层坍塌），LAMP 或每层下限可以防止。最后，平均值掩盖了谁在付出代价：剪枝后的模型在某些类别和非典型样本上损失得比其他地方多得多，所以我还会报告每个类别的准确率。”

# %% [markdown]
# ## Check yourself
#
# 1. Why should a pruning result be reported both before and after fine-tuning?
# 2. In a pruning pipeline, which step usually costs the most time, and why?
# 3. Two criteria differ by half a point after fine-tuning on one seed. What do you need
#    before calling one better?
# 4. Why run the sensitivity scan on the validation set rather than the test set?
# 5. Each layer alone loses at most one point at its chosen amount. Why can the network lose
#    more when all layers are pruned to those amounts together?
#
# <details><summary>Answers</summary>
#
# 1. Before fine-tuning shows how good the criterion's choice is (for a BatchNorm network only
#    once its running statistics are recalibrated: in the pipeline study stale statistics alone
#    cost the CNN more than half its accuracy); after fine-tuning shows what you will actually
#    deploy, and how much the budget of retraining hides the differences. One without the other
#    misleads.
# 2. Fine-tuning (or retraining): it runs many passes over the training data, while scoring
#    and pruning read the weights, or a few batches, once.
# 3. Several seeds, the same fine-tuning budget, and a difference larger than the spread
#    over seeds (ideally on the whole curve, not one point).
# 4. Because the scan is used to *choose* the ratios. Choosing on the test set tunes the
#    model to it, and its accuracy then overestimates how the model does on new data.
# 5. The scan measures each layer with all other layers intact. Pruned together, the errors
#    of one layer feed into the next, which has also lost weights, so the damage compounds.
#
# </details>
