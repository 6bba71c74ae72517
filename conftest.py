"""Settings for every test run, the notebooks' kernels included (they inherit the environment)."""

import os

os.environ["TQDM_DISABLE"] = "1"  # progress bars off: nbval compares outputs, not bars
os.environ.setdefault("MPLBACKEND", "Agg")
