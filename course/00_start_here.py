# %% [markdown]
# # 00 · Start here

# %% [markdown]
# <!-- bilingual-box -->
# > **The question** · **问题**
# >
# > **EN** How does this course work, and is your set-up ready?
# >
# > **中文** 这门课怎么学？你的环境准备好了吗？
# >
# > **Three takeaways** · **三个要点**
# >
# > 1. Lessons 01-06 each answer one interview question on pruning with code you run and numbers
# > you measure.
# >    <br>第 01–06 课各回答一个关于剪枝的面试问题，每个数字都由你亲手运行的代码测出。
# > 2. Exercises 07 and 08 check your code, give hints and show solutions; lesson 09 is the
# > bilingual review.
# >    <br>练习 07 和 08 会检查你的代码、给出提示和参考答案；第 09 课是中英双语复习。
# > 3. Everything runs offline on a laptop CPU; every check in this notebook should print OK.
# >    <br>所有内容都离线运行在笔记本电脑的 CPU 上；本笔记本的每一项检查都应显示 OK。

# %% [markdown]
# Welcome! This course teaches **neural-network pruning**: making a trained network smaller
# and cheaper by removing parts of it, while keeping it accurate. Everything runs on a laptop
# CPU in seconds, on a small data set that ships with scikit-learn, so nothing is downloaded.
#
# This notebook does two things:
#
# 1. it **checks your set-up** (libraries, device, widgets, data, threads, fonts). Each check
#    prints `OK`, or `FIX` followed by what to do;
# 2. it explains **how the course works**: lessons, exercises, hints and solutions.
#
# Run it with *Run → Run All Cells*. If every line says `OK`, you are ready.

# %%
import importlib.metadata as metadata
import os
import platform
import sys


def report(name: str, ok: bool, detail: str, fix: str = "") -> None:
    """Print one check: OK with what was found, or FIX with what to do about it."""
    print(f"{'OK ' if ok else 'FIX'}  {name}: {detail}")
    if not ok:
        print(f"     -> {fix}")


# %% [markdown]
# ## 1 · Libraries
#
# The course needs a recent Python and a handful of libraries. The minimum versions are read
# from the package's own requirements (`pyproject.toml`), so this list is always current.

# %%
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

try:
    wanted = [Requirement(r) for r in metadata.requires("pruning-lessons") or []]
    wanted = [r for r in wanted if r.marker is None]  # skip the developer extras
    requires_python = metadata.metadata("pruning-lessons")["Requires-Python"]
    report("pruning-lessons", True, f"installed, version {metadata.version('pruning-lessons')}")
except metadata.PackageNotFoundError:
    project = tomllib.loads((Path.cwd().parent / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    requires_python = project["requires-python"]
    report(
        "pruning-lessons",
        False,
        "not installed in this kernel's Python",
        f"in a terminal, in the course folder: {sys.executable} -m pip install -e .",
    )

python_version = platform.python_version()
report(
    "python",
    SpecifierSet(requires_python).contains(python_version),
    f"{python_version} (needs {requires_python}) at {sys.executable}",
    f"install Python {requires_python} and create a fresh environment for the course",
)
for requirement in wanted:
    try:
        version = metadata.version(requirement.name)
    except metadata.PackageNotFoundError:
        report(
            requirement.name, False, "missing", f'{sys.executable} -m pip install "{requirement}"'
        )
        continue
    report(
        requirement.name,
        requirement.specifier.contains(Version(version).base_version, prereleases=True),
        f"{version} (needs {requirement.specifier or 'any'})",
        f'{sys.executable} -m pip install --upgrade "{requirement}"',
    )

# %% [markdown]
# If a line says `FIX`, run the command it prints in a terminal, then restart the kernel
# (*Kernel → Restart Kernel*) and run this notebook again.
#
# ## 2 · The library and the device
#
# The course's code lives in the package `pruning_lessons`, imported as `pl`. Its functions
# work on any device: `pl.pick_device()` names the fastest one it finds, an NVIDIA GPU (CUDA),
# an Apple GPU (MPS) or the CPU. The lessons themselves run on the CPU, which is quick enough
# for these small models; to train on a GPU instead, load the data there with
# `pl.load_digits(device=pl.pick_device())` and the models follow the data.

# %%
import torch

import pruning_lessons as pl

report("import pruning_lessons", True, f"from {os.path.dirname(pl.__file__)}")
device = pl.pick_device()
try:
    (torch.ones(2, 2, device=device) @ torch.ones(2, 2, device=device)).sum().item()
    report("device", True, f"{device} (torch {torch.__version__})")
except RuntimeError as error:
    report(
        "device",
        False,
        f"{device} was found but a computation on it failed: {error}",
        "the CPU always works: call functions with device='cpu', or reinstall torch "
        "for your GPU from https://pytorch.org/get-started/locally/",
    )
if device.type == "cpu":
    print("     (no GPU found: that is fine, every lesson is sized for a CPU)")

# %% [markdown]
# ## 3 · Do widgets work?
#
# The lessons use **sliders**: you drag one and a plot or a line of numbers is redrawn. They
# need `ipywidgets` in the kernel and its JupyterLab extension, `jupyterlab_widgets`, in the
# Jupyter server.
#
# Below you should see a green line saying **widgets work** and a small slider. Move it: the
# text should follow.

# %% tags=["nbval-ignore-output"]
import ipywidgets as widgets

probe_label = widgets.HTML("<b style='color:#137333'>widgets work: move the slider</b>")
probe_slider = widgets.IntSlider(value=0, min=0, max=10, description="probe")


def _probe_moved(change: dict) -> None:
    probe_label.value = f"<b style='color:#137333'>widgets work: the kernel saw {change['new']}</b>"


probe_slider.observe(_probe_moved, names="value")
widgets.VBox([probe_label, probe_slider])

# %% [markdown]
# **If you see plain text instead** of a slider, the kernel made the widget but your browser
# cannot draw it. The next cell says what to do, in plain text, so you can read it either way.

# %%
frontend = [
    Requirement(r)
    for r in metadata.requires("ipywidgets") or []
    if Requirement(r).name in ("jupyterlab_widgets", "widgetsnbextension")
]
lab, classic = (
    next(str(r) for r in frontend if r.name == name)
    for name in ("jupyterlab_widgets", "widgetsnbextension")
)
ipywidgets_wanted = next((str(r) for r in wanted if r.name == "ipywidgets"), "ipywidgets")
print(
    "If the cell above shows plain text such as VBox(children=(HTML(value=...), "
    "IntSlider(value=0, ...))) instead of a slider:\n"
    f"  1. in a terminal, in the environment that runs JupyterLab: pip install --upgrade "
    f'"{ipywidgets_wanted}" "{lab}"\n'
    "  2. stop JupyterLab completely (not just the kernel), start it again, reload the page;\n"
    f'  3. classic Notebook also needs "{classic}"; in VS Code, update the Jupyter extension.\n'
    "If the slider shows but the green text does not follow it, the kernel is not connected:\n"
    "restart the kernel and run all cells again."
)

# %% [markdown]
# Every slider cell in the course is followed by a cell that prints the same result for the
# slider's starting value, so a lesson still reads well where widgets cannot run (for
# example on a rendered page on GitHub).
#
# ## 4 · The data
#
# The course uses scikit-learn's bundled **digits**: small grey images of handwritten digits.
# `pl.load_digits()` scales the pixels and splits the images, always the same way, into
# training, validation and test sets.

# %%
try:
    data = pl.load_digits(seed=0)
    images, labels = data.test.tensors
    report(
        "digits",
        True,
        f"{len(data.train)} training, {len(data.val)} validation and {len(data.test)} test "
        f"images of shape {tuple(images.shape[1:])}, {len(labels.unique())} classes, "
        f"pixels from {images.min():.0f} to {images.max():.0f}",
    )
except Exception as error:  # noqa: BLE001 -- any failure here needs the same fix
    report(
        "digits",
        False,
        f"could not load: {type(error).__name__}: {error}",
        f'{sys.executable} -m pip install --upgrade "scikit-learn>=1.3" (the images ship with it)',
    )

# %%
import matplotlib.pyplot as plt

figure, axes = plt.subplots(1, 10, figsize=(9, 1.3), layout="constrained")
for digit, ax in enumerate(axes):
    first = int((labels == digit).nonzero()[0])
    ax.imshow(images[first, 0], cmap="Greys")
    ax.set(title=str(digit), xticks=[], yticks=[])
plt.show()

# %% [markdown]
# ## 5 · Threads
#
# PyTorch runs matrix products on several CPU threads. More threads than cores makes things
# *slower*, because the threads fight over the cores (and so does a second thread on a
# machine that is busy with other programs). The course's models are so small that one
# thread is the fastest: `pl.fit`, `pl.evaluate`, the gradient-based scores and
# `pl.measure_latency` switch to the count `pl.threads_for(model)` gives (one thread for a
# model under `pl.SMALL_MODEL_PARAMETERS` parameters) and put your setting back when they
# return, so a lesson runs at the same speed whatever thread count your Python started with.

# %%
cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
threads = torch.get_num_threads()
report(
    "threads",
    threads <= cores,
    f"torch uses {threads} thread(s) on {cores} available core(s)",
    f"run torch.set_num_threads({cores}) at the top of a notebook, or set the environment "
    f"variable OMP_NUM_THREADS={cores} before starting JupyterLab",
)
seen = []


def record_threads(model: torch.nn.Module) -> torch.Tensor:
    """A training penalty of zero that notes the thread count pl.fit trains with."""
    seen.append(torch.get_num_threads())
    return torch.zeros(())


pl.fit(pl.mlp(), pl.load_digits(seed=0).train, epochs=1, progress=False, penalty=record_threads)
report(
    "library threads",
    set(seen) == {pl.threads_for(pl.mlp())} and torch.get_num_threads() == threads,
    f"pl.fit trained the digits MLP on {max(seen)} thread(s), then put back {threads}",
    "reinstall the course: pip install -e . (an old copy of the library is imported)",
)

# %% [markdown]
# ## 6 · Fonts for Chinese
#
# Lesson 09, its quiz and the glossary show Chinese next to English (中文). Two programs draw
# it, each with its own list of fonts:
#
# * **your browser** draws the text of the notebook: if you read two Chinese characters in
#   the brackets here [中文] and not two empty boxes, it has a font and nothing is to do;
# * **matplotlib** draws the plots. It lists the system's fonts once and keeps that list in a
#   cache, so a font installed later stays unseen. `pl.chinese_fonts()` names the fonts it
#   can draw Chinese with; finding none, it first adds fonts the cache has not seen yet and
#   rewrites the cache (no need to delete it by hand).

# %%
fonts = pl.chinese_fonts()
report(
    "plots show Chinese",
    bool(fonts),
    ", ".join(fonts[:3]) if fonts else "no font with Chinese characters found for matplotlib",
    "install one (macOS and Windows come with one): Debian/Ubuntu "
    "`sudo apt-get install fonts-noto-cjk`, Fedora `sudo dnf install google-noto-sans-cjk-fonts`;"
    " then run this cell again (only the Chinese parts of lesson 09 need it; if the brackets "
    "above show boxes, reload the browser tab after installing, too)",
)

# %% [markdown]
# ## 7 · How the course works
#
# The course answers six questions that interviewers ask about pruning, one lesson each, and
# sets two coding exercises like those in a live coding round.
#
# * **Lessons** explain one idea with code you run: each trains a small model on the digits,
#   prunes it, and measures what changed. Numbers in the text are printed
#   by the code, so they are the ones your machine just measured. Plots come with sliders:
#   drag one and the result is redrawn. Each lesson ends with a short model answer, **as you
#   would say it in an interview**, and a few **self-check questions**; click a question's
#   *Answer* to unfold it.
# * **Exercises** (07 and 08) leave functions for you to write. A cell with
#   `raise NotImplementedError(...)` is yours: replace that line with your code. Then:
#   * `ex1.check(fn)` runs your function on small cases and says *Correct*, *Incorrect* (with
#     the first thing that is wrong, in words) or *Not attempted yet*;
#   * `ex1.hint(1)`, `ex1.hint(2)`, ...: a ladder, from a nudge to nearly the answer;
#   * `ex1.solution()` shows a reference solution;
#   * `fn = ex1.use(fn)` keeps your function if it passes and otherwise uses the reference
#     (with a one-line notice), so the rest of the notebook always runs.
# * **Solutions**: the folder `solutions/` holds the exercise notebooks with every function
#   written out.
#
# Here is what a check says about a wrong answer to the first exercise of 07 (it should prune
# the weights with $|w| \le t$, this one keeps those equal to $t$), and the first hint:

# %%
from pruning_lessons.teaching.exercises.weight import ex1


def threshold_mask(weight: torch.Tensor, threshold: float) -> torch.Tensor:
    return weight.abs() >= threshold  # wrong on purpose: should be >


ex1.check(threshold_mask)

# %%
ex1.hint(1)

# %% [markdown]
# The notebooks in this folder, in order:

# %%
import json

for path in sorted(Path.cwd().glob("[0-9][0-9]_*.ipynb")):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    title = "".join(cells[0]["source"]).splitlines()[0].lstrip("# ")
    print(f"{path.name:40s} {title}")

# %% [markdown]
# Start with **01 · What is pruning, and what is it for?**

# %% [markdown]
# <!-- model-answer -->
# ## 60-second answer · 60 秒回答
#
# **60-second answer** (as you would say it in an interview)
#
# > "Pruning removes the parts of a trained network that matter least, so the model gets smaller,
# > faster or cheaper to run while it keeps its accuracy. This course builds that answer from six
# > interview questions: what pruning is, how structured and weight pruning differ, where pruning
# > is used, the common methods, the concrete steps, and the challenges; every claim rests on a
# > number you measure in the notebook. Two coding exercises then have you implement weight
# > pruning and structural pruning yourself, and a bilingual quiz with flash-cards reviews it
# > all."
#
# **60 秒回答**（面试时可以这样说）
#
# > “剪枝就是删掉训练好的网络里最不重要的部分，让模型更小、更快、更省电，同时尽量保持准确率。这门课用六个面试问题把它讲清楚：什么是剪枝、结构化剪枝与权重剪枝的区别、剪枝用在哪里、常见方法、具体步骤和主要挑战；每个结论都来自你在笔记本里亲手测出的数字。之后两个编程练习要求你自己实现权重剪枝和结构化剪枝，最后用中英双语的测验和抽认卡复习。”
