# %% [markdown]
# # 05 · The steps of pruning

# %% [markdown]
# <!-- bilingual-box -->
# > **The question** · **问题**
# >
# > **EN** What are the concrete steps of pruning during training?
# >
# > **中文** 训练过程中剪枝的具体步骤是什么？
# >
# > **Three takeaways** · **三个要点**
# >
# > 1. Initialise, train to the target accuracy, prune, fine-tune, evaluate on held-out data.
# >    <br>初始化，训练到目标准确率，剪枝，微调，在留出集上评估。
# > 2. One-shot, iterative and gradual (cubic) schedules are compared only at an equal fine-tuning
# > budget and over several seeds.
# >    <br>一次性、迭代式和渐进式（三次方）剪枝方案，只有在相同的微调预算、多个随机种子下比较才公平。
# > 3. Lottery tickets rewind the surviving weights instead of fine-tuning, and must beat a random
# > re-initialisation of the same mask.
# >    <br>彩票假设的做法是把保留下来的权重回退到早期的值再训练，而不是微调；它必须胜过同一掩码配随机重新初始化的对照。

# %% [markdown]
# **The interview question:** *What are the concrete steps of pruning during training?*
#
# Pruning is rarely one cut. The usual recipe is a short pipeline:
#
# 1. **Initialise** the network (and keep a copy of the initial weights, in case you want to
#    rewind to them later).
# 2. **Train** it until it reaches the accuracy you need. A criterion such as magnitude only
#    means something once the weights have learnt.
# 3. **Prune**: score, select and remove (lesson 04 compared the criteria).
# 4. **Fine-tune**: train the pruned network a little more, so the surviving weights take
#    over the work of the removed ones.
# 5. **Evaluate** on data that none of the choices were made on.
#
# Steps 3 and 4 can happen once (**one-shot**) or alternate several times while the sparsity
# rises (**iterative**, **gradual**). And **lottery-ticket rewinding** replaces step 4
# altogether: after pruning, the survivors go back to their *initial* values and the sparse
# network trains again.
#
# This notebook runs each of these on the digits MLP, briefly. Comparing schedules properly
# needs several seeds and a real fine-tuning budget, which takes minutes: that study was run
# with `python benchmarks/bench_pipeline.py`, and this notebook reads its saved results from
# `benchmarks/results/pipeline.json` and `pipeline.png`.

# %%
import copy
import json

import matplotlib.pyplot as plt
import torch
from IPython.display import Image, display

import pruning_lessons as pl
from pruning_lessons.teaching.narrate import gap_verdict, one_image
from pruning_lessons.weights.pipeline import lottery_ticket, prune_and_fine_tune, train_dense
from pruning_lessons.weights.schedules import cubic_sparsity, sparsity_schedule

data = pl.load_digits(seed=0)

# %% [markdown]
# ## 1 · The pipeline, step by step
#
# `train_dense` does steps 1 and 2 (a seeded initialisation, then training) and starts a
# `Record`: one line per step with the sparsity, the test accuracy and the time it took.
# `prune_and_fine_tune` adds steps 3 to 5 to the same record.

# %%
target = 0.95  # the accuracy the dense model must reach before we prune it
model, record = train_dense(pl.mlp, data, epochs=30, seed=0)  # steps 1 and 2
verdict = "reached" if record.dense_accuracy >= target else "did NOT reach"
print(f"dense accuracy {record.dense_accuracy:.1%}: {verdict} the target of {target:.0%}")
dense, dense_record = copy.deepcopy(model), copy.deepcopy(record)  # kept for later sections

prune_and_fine_tune(model, data, record, sparsity=0.9, schedule="one-shot", fine_tune_epochs=6)
print(record)

# %% [markdown]
# Read the record from top to bottom: the accuracy **drops** at the prune step and
# **recovers** during fine-tuning. Every later step's accuracy is measured on the test set,
# which no step of the pipeline trained on or chose anything with. Notice also where the
# time goes: pruning itself is nearly free; training and fine-tuning are the cost.
#
# ## 2 · When to prune: three schedules
#
# Steps 3 and 4 can be arranged in different ways. All three below end at the same sparsity
# and, in this library, spend the **same total number of fine-tuning epochs**, so that they
# can be compared fairly:
#
# * **One-shot**: prune to the target at once, then fine-tune with the whole budget.
# * **Iterative**: several rounds; each one removes the same fraction of the weights that are
#   *still there*, then fine-tunes. This fixed-fraction rule is the iterative magnitude
#   pruning of Frankle & Carbin (2019). Han et al. (2015), who made prune-and-retrain in rounds
#   popular, cut each layer at a threshold instead: a quality parameter times the standard
#   deviation of that layer's weights.
# * **Gradual, cubic** (Zhu & Gupta 2017): the sparsity follows
#   $s_t = s_f + (s_i - s_f)\,(1 - \tfrac{t - t_0}{n\,\Delta t})^3$,
#   which rises fast at first, while there are many redundant weights, and slowly at the end,
#   when every weight counts.
#
# With several steps, the library spends the first half of the fine-tuning budget between
# the pruning steps and the second half at the final sparsity, with a learning rate that
# decays to zero. The levels each schedule reaches (this cell's output is pinned by the
# tests):

# %% tags=["nbval-check-output"]
for kind in ("one-shot", "iterative", "cubic"):
    levels = sparsity_schedule(kind, 0.9, steps=5)
    print(f"{kind:9s}", " ".join(f"{level:.3f}" for level in levels))
formula = [cubic_sparsity(t, 0.9, steps=5) for t in range(1, 6)]
print("cubic levels = s_t at t = 1..5:", formula == sparsity_schedule("cubic", 0.9, steps=5))

# %% [markdown]
# The cubic schedule takes bigger bites early than the iterative one and only crumbs at the
# end. Move the sliders to see how the final sparsity and the number of steps change that
# (it redraws when you let go). The dotted line is the continuous curve $s(t)$; the cell
# below the sliders shows the default for readers without a kernel.

# %% tags=["nbval-ignore-output"]
from pruning_lessons.teaching.explorers.schedules import (
    draw_schedules,
    schedule_effect,
    schedule_explorer,
)

schedule_explorer()

# %%
effect = schedule_effect(0.9, 5)
print(effect)
for kind in ("iterative", "cubic"):
    print(
        f"{kind}: the first step removes {effect.first_step(kind):.1%} of all weights, "
        f"the last {effect.last_step(kind):.1%}"
    )
draw_schedules(effect)
plt.show()

# %% [markdown]
# ## 3 · The three schedules, live
#
# Now the three schedules prune copies of the same trained model to the same sparsity with
# the same small fine-tuning budget. The plot follows each run through its record: sparsity
# and test accuracy against the fine-tuning epochs spent so far. Each prune step is a drop,
# each fine-tuning phase a recovery.

# %%
sparsity, steps, budget = 0.95, 3, 6
records = {}
for schedule in ("one-shot", "iterative", "cubic"):
    run = copy.deepcopy(dense_record)
    prune_and_fine_tune(
        copy.deepcopy(dense),
        data,
        run,
        sparsity=sparsity,
        schedule=schedule,
        steps=steps,
        fine_tune_epochs=budget,
    )
    records[schedule] = run

figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True, layout="constrained")
for schedule, run in records.items():
    epochs, xs, sparsities, accuracies = 0, [0], [0.0], [100 * run.dense_accuracy]
    for step in run.steps[1:]:  # after the dense training
        epochs += step.epochs
        xs.append(epochs)
        sparsities.append(100 * step.sparsity)
        accuracies.append(100 * step.accuracy)
    top.plot(xs, sparsities, marker="o", label=schedule)
    bottom.plot(xs, accuracies, marker="o", label=schedule)
top.set(ylabel="sparsity (%)", title=f"Pruning to {sparsity:.0%} with {budget} fine-tuning epochs")
bottom.set(xlabel="fine-tuning epochs so far", ylabel="test accuracy (%)")
bottom.axhline(100 * dense_record.dense_accuracy, color="grey", linestyle="--", label="dense")
bottom.legend()
plt.show()

for schedule, run in records.items():
    worst = min(s.accuracy for s in run.steps)
    print(f"{schedule:9s} lowest point {worst:.1%}, final {run.final_accuracy:.1%}")
before_last, last = [s.sparsity for s in records["cubic"].steps if s.step == "prune"][-2:]
print(
    f"The last cubic step removes {last - before_last:.1%} of all weights, but that is "
    f"{(last - before_last) / (1 - before_last):.0%} of the weights still there."
)

# %% [markdown]
# Two things to see. First, at high sparsity even a cut that looks small is a big one: what
# matters is the share of the weights *still there* that it removes (printed above), which is
# why the last steps of a schedule hurt the most. Second, which schedule ends highest in
# this run cannot be trusted: one seed and a few epochs do not settle it. The study below
# does.
#
# ## 4 · The full study, read from `benchmarks/results/pipeline.json`
#
# `python benchmarks/bench_pipeline.py` ran every schedule with two criteria (global
# magnitude and LAMP) at several sparsities, each over several seeds, with a proper
# fine-tuning budget. Here is the figure it saved:

# %%
display(Image(filename=str(pl.saved_result("pipeline.png")), width=700))
study = json.loads(pl.saved_result("pipeline.json").read_text())
settings = study["settings"]
print(
    f"{len(settings['seeds'])} seeds, {settings['train_epochs']} training epochs, then "
    f"{settings['fine_tune_epochs']} fine-tuning epochs for every schedule "
    f"({settings['steps']} pruning steps for iterative and cubic); "
    f"dense {study['dense']['mean']:.1%} +- {study['dense']['std']:.1%}"
)


def cell(stats: dict) -> str:
    return f"{stats['mean']:.1%} +- {stats['std']:.1%}"


def compare(a: dict, b: dict) -> str:
    """How the mean of a compares with b's, against their spread over seeds."""
    gap = a["mean"] - b["mean"]
    if abs(gap) > a["std"] + b["std"]:
        return f"{100 * gap:+.1f} points, more than the spread"
    return f"{100 * gap:+.1f} points, within the spread"


for method, by_schedule in study["mlp"].items():
    print(f"\n{method}:")
    for key in by_schedule["one-shot"]:
        row = {schedule: by_schedule[schedule][key] for schedule in by_schedule}
        best = max(row, key=lambda s: row[s]["mean"])
        parts = ", ".join(f"{s} {cell(stats)}" for s, stats in row.items())
        versus = (
            f"best: {best} ({compare(row[best], row['one-shot'])} against one-shot)"
            if best != "one-shot"
            else "best: one-shot"
        )
        print(f"  {float(key):4.0%}: {parts}; {versus}")

budget = settings["fine_tune_epochs"]
print(f"\nWhat the file says, schedule against one-shot ({one_image(len(data.test))}):")
for method, by_schedule in study["mlp"].items():
    for key, one in by_schedule["one-shot"].items():
        for schedule in ("iterative", "cubic"):
            other = by_schedule[schedule][key]
            verdict = gap_verdict(
                schedule, other["mean"], other["std"], "one-shot", one["mean"], one["std"]
            )
            if "beats" not in verdict:
                continue
            why = (
                f"one-shot spends all {budget} epochs at the final sparsity, the gradual "
                f"schedules only the second half"
                if verdict.startswith("one-shot")
                else "one cut to the target removes more than the budget can repair"
            )
            print(f"  {method}, {float(key):.0%}: {verdict}; {why}")

# %% [markdown]
# How to read it: the lines above list only the gaps larger than the spread over seeds, and
# each line is generated from the file. The equal budget is shared differently: one-shot
# recovers at the final sparsity for the whole budget, while iterative and cubic spend half
# of it between cuts, at sparsities they then leave behind. A gradual schedule can only win
# where a single large cut does damage that the recovery phase cannot repair, which, if at
# all, shows at the highest sparsity.
#
# ## 5 · Lottery tickets: rewind instead of fine-tune
#
# Frankle & Carbin (2019) asked a different question: is there a small subnetwork that could
# have been trained *from the start*? Their recipe:
#
# 1. train the dense network, 2. prune the smallest weights, 3. **reset** the survivors to
# their **initial** values, 4. train again; repeat for a few rounds, pruning more each time.
#
# The sparse network found this way is a *ticket*. The paper reports tickets at 10-20 % of
# the weights that train as well as the dense network, and that the same mask with a fresh
# random initialisation does worse: the initial values matter, not only the mask. The control
# experiment is therefore part of the recipe. On deeper networks rewinding to step 0 fails;
# rewinding to weights from early in training works (Frankle et al. 2020), and Renda et al.
# (2020) found that rewinding the weights, or only the learning-rate schedule, and retraining
# beats plain fine-tuning at an equal budget. `lottery_ticket` runs both; a short live run:

# %%
ticket, ticket_record, control, control_record = lottery_ticket(
    pl.mlp, data, sparsity=0.9, rounds=2, epochs=15, seed=0
)
print("ticket (rewound to the initial weights):")
print(ticket_record)
print("\nsame mask, fresh random initialisation:")
print(control_record)
gap = ticket_record.final_accuracy - control_record.final_accuracy
rewinds = [s.accuracy for s in ticket_record.steps if s.step == "rewind"]
print("\naccuracy right after each rewind:", ", ".join(f"{a:.1%}" for a in rewinds))
print(
    f"This run: the ticket ends {100 * abs(gap):.1f} points {'above' if gap > 0 else 'below'} "
    "its random "
    "re-initialisation (one seed, so this alone proves nothing)."
)

# %% [markdown]
# Note the **rewind** lines: right after rewinding, the network has the mask of a trained
# network but untrained weights, so its accuracy falls sharply (the sparser, the further);
# training brings it back.
#
# And here are the saved results over several seeds. The verdict on each line is computed
# from the file: it says whether the ticket beat its random re-initialisation, and whether by
# more than the spread over seeds.

# %%
lottery = study["lottery"]
labels = list(lottery)
beaten, clearly = 0, 0
for key in labels:
    ticket_stats, random_stats = lottery[key]["ticket"], lottery[key]["random_reinit"]
    gap = ticket_stats["mean"] - random_stats["mean"]
    beaten += gap > 0
    clearly += gap > ticket_stats["std"] + random_stats["std"]
    print(
        f"{float(key):4.0%}: ticket {cell(ticket_stats)}, random re-init {cell(random_stats)}: "
        f"{compare(ticket_stats, random_stats)}"
    )
print(
    f"\nThe ticket's mean beat its random re-initialisation at {beaten} of {len(labels)} "
    f"sparsities, by more than the spread at {clearly}."
)
epochs = settings["train_epochs"]
print(
    f"Its price: {settings['rounds']} rounds of training plus a last run, "
    f"{(settings['rounds'] + 1) * epochs} epochs, against {epochs + settings['fine_tune_epochs']}"
    " for training once and fine-tuning."
)

xs = range(len(labels))
figure, ax = plt.subplots(figsize=(7, 3.4), layout="constrained")
for offset, (name, colour) in zip(
    (-0.2, 0.2), (("ticket", "tab:pink"), ("random_reinit", "tab:grey")), strict=True
):
    ax.bar(
        [x + offset for x in xs],
        [100 * lottery[k][name]["mean"] for k in labels],
        width=0.4,
        yerr=[100 * lottery[k][name]["std"] for k in labels],
        capsize=3,
        color=colour,
        label=name.replace("_", " "),
    )
lowest = min(lottery[k][n]["mean"] for k in labels for n in ("ticket", "random_reinit"))
ax.set(
    xticks=list(xs),
    xticklabels=[f"{float(k):.0%}" for k in labels],
    xlabel="sparsity",
    ylabel="test accuracy (%)",
    ylim=(100 * lowest - 5, 100),
    title="Lottery ticket vs the same mask, randomly re-initialised",
)
ax.legend(loc="upper right", ncol=2)
plt.show()

# %% [markdown]
# Lottery tickets are more a scientific finding than a cheap recipe: they need several full
# trainings, where pruning with fine-tuning needs one training and a short recovery. Their
# practical lesson is that *a sparse network can train well from the start if it starts from
# the right values*, which is what pruning-at-initialisation methods such as SNIP (lesson 04)
# try to achieve without the repeated training.
#
# ## 6 · Sparse from the start: dynamic sparse training
#
# Every recipe so far pays for a dense network first. **Dynamic sparse training** never has
# one: each layer starts with a random mask at the target sparsity and keeps exactly that
# sparsity all the way, but the mask *moves*. Every few hundred examples the layer drops the
# active weights with the smallest magnitude and grows as many new ones, at zero:
#
# * **SET** (Mocanu et al. 2018) grows at random;
# * **RigL** (Evci et al. 2020) grows where the gradient of the current batch is largest, a
#   sign that a connection would lower the loss if it existed.
#
# The number of weights that move shrinks over training (a cosine), and the last quarter
# fine-tunes a fixed mask. `pl.sparse_train` runs both; a short live run at 90 %:

# %%
pl.seed_everything(0)
sparse = pl.mlp()
pl.sparse_train(sparse, data, 0.9, method="rigl", epochs=8, progress=False)
masks = pl.get_masks(sparse)
kept = {name: f"{keep.float().mean():.1%}" for name, keep in masks.items()}
print(f"RigL at 90 %: test accuracy {pl.evaluate(sparse, data.test):.1%}; weights kept {kept}")

# %% [markdown]
# Does it pay? `python benchmarks/bench_sparse_training.py` gave every recipe the same number
# of epochs: prune-after-training trains dense, prunes once and fine-tunes; RigL, SET and a
# *static* random mask (never moved, the control) train sparse for all of it. The last
# column is what the training cost in multiply-adds, as a fraction of dense training.

# %%
sparse_study = json.loads(pl.saved_result("sparse_training.json").read_text())
recipes = sparse_study["recipes"]
levels = list(recipes["RigL"])
print(f"{len(sparse_study['settings']['seeds'])} seeds; test accuracy, mean +- std:")
for recipe, by_level in recipes.items():
    print(f"  {recipe:27s}" + "".join(f"{float(k):5.0%}: {cell(by_level[k]):16s}" for k in levels))
print()
for key in levels:
    rigl, static = recipes["RigL"][key], recipes["static"][key]
    after = max(
        (r for r in recipes if r.startswith("after training")),
        key=lambda r: recipes[r][key]["mean"],
    )
    best = recipes[after][key]
    print(
        f"{float(key):.0%}: "
        + gap_verdict("RigL", rigl["mean"], rigl["std"], after, best["mean"], best["std"])
        + "; "
        + gap_verdict("RigL", rigl["mean"], rigl["std"], "static", static["mean"], static["std"])
    )

# %% [markdown]
# Read the lines above with the budget in mind. Pruning after training had only the epochs
# left after its dense training to recover, so the higher the sparsity, the more a single cut
# costs it; the sparse recipes trained at their final sparsity the whole time, for a fraction
# of the compute. Where RigL beats the static mask, moving the mask is what helped; where they
# tie, the random mask was already good enough at that sparsity. With a longer fine-tuning
# budget prune-after-training recovers much more (section 4), which is why the comparison is
# only fair at an equal budget.
#
# The same idea learns **N:M masks** (lesson 10's 2:4): the forward pass uses only the 2
# largest weights of every 4, recomputed at each step, while the gradient reaches every weight
# (the straight-through estimator), so a pruned weight can win its place back. SR-STE (Zhou et
# al. 2021) adds a small decay on the pruned weights so the mask stops flipping:

# %%
pl.seed_everything(0)
nm_model = pl.mlp()
penalty = pl.start_nm_training(nm_model, 2, 4, decay=2e-4)
pl.fit(nm_model, data, epochs=8, penalty=penalty, progress=False)
nm_masks = pl.finish_nm_training(nm_model)
exact = all(pl.is_nm_sparse(nm_model.get_parameter(name), 2, 4) for name in nm_masks)
print(
    f"2:4 learned during training: test accuracy {pl.evaluate(nm_model, data.test):.1%}; "
    f"every layer exactly 2:4: {exact}"
)


# %% [markdown]
# Regularisation is the third way to let training choose what goes: a penalty in the loss
# drives whole structures to zero, and the pruner then removes what is already (nearly) dead.
# **Group lasso** (Wen et al. 2016) adds the L2 norm of each unit's weights, not squared, so
# whole units reach zero the way an L1 penalty zeroes single weights: `pl.group_lasso(model,
# strength, example_input=x)` builds that penalty over the unit groups of lesson 08, for
# `pl.fit(..., penalty=...)`.
#
# **Learned L0 gates** (Louizos et al. 2018) put a gate $z_u \in [0, 1]$ on the output of
# every unit and learn where each gate sits. A gate is a *hard-concrete* sample: with
# $u \sim U(0,1)$, $s = \sigma((\log u - \log(1-u) + \log\alpha_u)/\beta)$ with
# temperature $\beta = 2/3$, stretched to $(\gamma, \zeta) = (-0.1, 1.1)$ and clamped to
# $[0, 1]$, so it can be exactly 0 (closed) or 1 and is still differentiable in
# $\log\alpha_u$. The number of open gates (the L0 norm) has no gradient, but its
# expectation has one in closed form, $P(z_u \neq 0) = \sigma(\log\alpha_u - \beta
# \log(-\gamma/\zeta))$. At evaluation the gate is deterministic,
# $\min(1, \max(0, \sigma(\log\alpha_u)(\zeta - \gamma) + \gamma))$.
# **Sheared-LLaMA** (Xia et al. 2024) steers such gates to a *target shape* of an LLM with a
# Lagrangian instead of a penalty strength: with $s$ the expected kept fraction and $t$ the
# target, the loss gains $\lambda_1 (s - t) + \lambda_2 (s - t)^2$, and the multipliers
# $\lambda_1, \lambda_2$ are trained by gradient *ascent*, so the constraint tightens until it
# holds. `pl.HardConcreteGates` gates the unit groups of lesson 08, `pl.train_l0` trains
# weights, gates and multipliers together, and `pl.remove_closed_units` cuts the closed units
# with the library's surgery (the open gates' values folded into their layers), so the small
# model computes what the gated one does:

# %%
pl.seed_everything(0)
gated = pl.mlp()
gates = pl.HardConcreteGates(gated)
l0_run = pl.train_l0(gated, gates, data, 0.25, epochs=10, progress=False)
small = pl.remove_closed_units(gated, gates)
x = data.test.tensors[0]
with torch.no_grad():
    gap = (small(x) - gated(x)).abs().max().item()
print(
    f"target: keep 25 % of each hidden layer; expected kept {l0_run.expected_kept[-1]:.1%}, "
    f"multipliers { ({n: tuple(round(v, 2) for v in lam) for n, lam in l0_run.lambdas.items()}) }"
)
print(
    f"hidden widths 300, 100 -> {small.fc1.out_features}, {small.fc2.out_features}; test "
    f"accuracy {pl.evaluate(small, data.test):.1%} before fine-tuning; largest difference from "
    f"the gated model {gap:.1e}"
)

# %% [markdown]
# The study above also removed whole hidden neurons three ways at an equal budget of epochs:
# prune after dense training (smallest L2 norm), group lasso then the same cut, and learned L0
# gates then the cut of the closed neurons; each then fine-tuned the same number of epochs.

# %%
units = sparse_study["units"]
print(f"{len(sparse_study['settings']['seeds'])} seeds; test accuracy, mean +- std:")
for recipe, by_level in units.items():
    print(
        f"  {recipe:26s}"
        + "".join(f"{float(k):4.0%} kept: {cell(v):15s}" for k, v in by_level.items())
    )
l0_kept = {k: v["kept"]["mean"] for k, v in units["L0 gates"].items()}
print(
    "hidden neurons the L0 gates kept: "
    + ", ".join(f"target {float(k):.0%}: {v:.1%}" for k, v in l0_kept.items())
)
for key in units["L0 gates"]:
    gates_row, lasso_row = units["L0 gates"][key], units["group lasso"][key]
    after_row = units["after training (L2 norm)"][key]
    print(
        f"{float(key):.0%} kept: "
        + gap_verdict(
            "L0 gates",
            gates_row["mean"],
            gates_row["std"],
            "group lasso",
            lasso_row["mean"],
            lasso_row["std"],
        )
        + "; "
        + gap_verdict(
            "L0 gates",
            gates_row["mean"],
            gates_row["std"],
            "prune after training",
            after_row["mean"],
            after_row["std"],
        )
    )

# %% [markdown]
# Read the last lines with the kept fractions: where the gates kept fewer neurons than the
# target, they won or lost with a smaller model. They keep fewer when some gates end training
# between open and closed: the expected L0 counts such a gate as partly open, while the
# deterministic gate at evaluation closes it (compare the expected kept fraction of the live
# run with the widths it kept). The gates and group lasso both choose during
# training which units go, so the network has already adapted to losing them when the cut
# comes; a cut after dense training removes units that had learned something. Where the lines
# say they beat the cut after training, that is what paid; where they tie, fine-tuning made up
# for it. The gates need no penalty strength: the multipliers find it.

# %% [markdown]
# ## Exercise: the cubic schedule
#
# Write Zhu & Gupta's schedule yourself: after `t` of `steps` pruning steps the sparsity is
# $s_t = s_f + (s_i - s_f)(1 - t/n)^3$, and it stays at $s_i$ before the first step and at
# $s_f$ after the last.

# %%
from pruning_lessons.teaching.exercises.lessons import lesson05 as ex1


# %% exercise="05.ex1"
def cubic(t: float, final: float, steps: int, initial: float = 0.0) -> float:
    """Sparsity after t of steps pruning steps, rising from initial to final (Zhu & Gupta)."""
    ### BEGIN SOLUTION
    t = min(max(t, 0), steps)
    return final + (initial - final) * (1 - t / steps) ** 3
    ### END SOLUTION


# %%
ex1.check(cubic)

# %%
cubic = ex1.use(cubic)
mine = [cubic(t, 0.9, 5) for t in range(6)]
print("sparsity at t = 0..5:", ", ".join(f"{s:.3f}" for s in mine))
same = all(abs(a - cubic_sparsity(t, 0.9, steps=5)) < 1e-12 for t, a in enumerate(mine))
print(f"{ex1.in_use(cubic)} function agrees with pl.weights.schedules.cubic_sparsity: {same}")


# %% [markdown]
# <!-- model-answer -->
# ## 60-second answer · 60 秒回答
#
# **60-second answer** (as you would say it in an interview)
#
# > "The classic pipeline is: initialise, train the dense model to the accuracy you need,
# > prune with some criterion, fine-tune the pruned model so the remaining weights compensate,
# > and evaluate on held-out data. The pruning and fine-tuning can be one-shot, or repeated:
# > iterative pruning removes a fixed fraction of what remains each round, and the gradual
# > cubic schedule of Zhu and Gupta raises the sparsity quickly at first and slowly at the end.
# > To compare schedules fairly I give them the same total fine-tuning budget and several
# > seeds; which one wins depends on the sparsity: one-shot recovers at the final sparsity for
# > the whole budget, gradual schedules give the network time to adapt between cuts, which
# > can matter at the highest sparsities.
# > An alternative to fine-tuning is lottery-ticket rewinding: after pruning, reset the
# > surviving weights to their initial values (or values from early in training) and
# > retrain. It only counts as a ticket if it beats the same mask with a fresh random
# > initialisation, and it costs several trainings. The other way round is to train sparse
# > from the start: SET and RigL keep a fixed weight budget and move connections during
# > training (drop the smallest, regrow at random or by gradient), so training itself stays
# > sparse; I compare them with prune-after-training at the same sparsity and budget. To learn
# > which whole units go, I train a penalty with the network: group lasso, or hard-concrete L0
# > gates steered to a target shape by a Lagrangian, as Sheared-LLaMA does."
# **60 秒回答**（面试时可以这样说）
#
# > “经典的流程是：初始化，把稠密模型训练到需要的准确率，用某种准则剪枝，微调剪枝后的模型让剩下的权重补偿损失，最后在留出集上评估。剪枝和微调可以一次完成，也可以反复进行：迭代式剪枝每轮删除剩余权重中固定的比例，Zhu 和 Gupta 的三次方渐进方案一开始快速提高稀疏度，最后放慢。为了公平比较，我让各方案使用相同的总微调预算和多个随机种子；哪种方案胜出取决于稀疏度：一次性剪枝在最终稀疏度上用完整个预算恢复，渐进方案让网络在两次剪枝之间有时间适应，这在最高稀疏度时可能更重要。微调之外的另一种选择是彩票假设的回退：剪枝后把保留下来的权重重置为初始值（或训练早期的值）再重新训练。只有胜过同一掩码配随机重新初始化的对照，才算找到了中奖彩票，而且它要训练好几次。反过来也可以从一开始就稀疏训练：SET 和 RigL 保持固定的权重预算，在训练中移动连接（删掉最小的，再随机或按梯度重新长出），所以训练本身也是稀疏的；我会在相同稀疏度和相同预算下把它们与先训练后剪枝比较。若要学习删除哪些完整的单元，我会在训练时加入惩罚项：group lasso，或者像 Sheared-LLaMA 那样用拉格朗日乘子把 hard-concrete L0 门控引导到目标结构。”

# %% [markdown]
# ## Check yourself
#
# 1. Why train the dense network before pruning it by magnitude, instead of pruning at once?
# 2. Iterative pruning to a final sparsity $s$ in $n$ equal rounds removes which fraction of
#    the *remaining* weights in each round?
# 3. Why must schedules be compared at an equal fine-tuning budget?
# 4. What is the control experiment for a lottery ticket, and what does it rule out?
# 5. Right after a rewind the accuracy falls sharply. Why is that expected?
#
# <details><summary>Answers</summary>
#
# 1. Magnitude only reflects importance once the weights have learnt: at initialisation the
#    sizes are random. (Methods that do prune before training, such as SNIP, use gradients
#    instead of sizes.)
# 2. $1 - (1 - s)^{1/n}$: after $n$ rounds the fraction left is $(1 - s)$, as required.
# 3. Because more fine-tuning recovers more accuracy by itself: a schedule with more epochs
#    would win for that reason alone, and you would be comparing budgets, not schedules.
# 4. Keep the same mask but start from a fresh random initialisation, and train the same way.
#    If the ticket is not better, the initial values did not matter, only the mask did (or
#    neither did).
# 5. The weights are back at their untrained initial values; only the mask comes from the
#    trained network. The ticket is meant to be *trained* from there, not used as it is.
#
# </details>
