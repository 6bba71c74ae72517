"""Slider explorers, one module per lesson or theme: thin ipywidgets over tested functions.

Each ``*_effect`` function computes what a slider shows and is tested on its own; the
``*_explorer`` only wires a slider to it and to a plot (the shared plumbing is in :mod:`.ui`).

========================  ======  ====================================================
module                    lesson  what the slider moves
========================  ======  ====================================================
:mod:`.amount`            01      the share of weights pruned by global magnitude
:mod:`.granularity`       02      one parameter budget, weight vs structured pruning
:mod:`.budget`            03      a MACs / parameter / latency budget to fit
:mod:`.criteria`          04      the amount, for several weight criteria at once
:mod:`.schedules`         05      the final sparsity and the number of pruning steps
:mod:`.layer_ratio`       06      the accuracy drop allowed per layer (sensitivity)
:mod:`.noise`             06      the noise or shift applied to the test digits
:mod:`.threshold`         07      a magnitude threshold
:mod:`.units`             08      the share of neurons / filters removed
:mod:`.llm`               10      sparsity, method and calibration size of an LLM
:mod:`.timing`            02-08   (no slider) latency of several models side by side
========================  ======  ====================================================
"""
