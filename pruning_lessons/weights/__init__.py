"""Weight (unstructured) and N:M pruning: every pruner that zeroes weights and keeps shapes.

Following the pipeline score -> select -> apply:

* ``criteria``: scores per weight (magnitude, random, Taylor, SNIP, movement, LAMP) and
  :func:`prune_weights`, which turns any criterion into masks.
* ``select``: the exact, deterministic k-smallest selection every pruner shares.
* ``magnitude``: magnitude and random pruning, per layer or global, by amount or threshold.
* ``masks``: masks that hold through training, saving and loading.
* ``nm``: N:M semi-structured sparsity (2:4).
* ``sr_ste``: an N:M mask learned during training (STE, SR-STE).
* ``schedules``: one-shot, iterative and cubic sparsity schedules.
* ``pipeline``: train, prune, fine-tune, evaluate; the lottery ticket.
* ``analysis``: per-layer sensitivity, spread over seeds, robustness to noise.
* ``sparse_training``: sparse from the first step, masks moved by SET or RigL.

This file imports nothing, so the command line can read ``weights.schedules`` before torch.
"""
