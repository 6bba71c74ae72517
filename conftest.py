"""Settings for every test run, the notebooks' kernels included (they inherit the environment)."""

import atexit
import os
import shutil
import tempfile

os.environ["TQDM_DISABLE"] = "1"  # progress bars off: nbval compares outputs, not bars
os.environ.setdefault("MPLBACKEND", "Agg")
# Kernels started by the tests keep their IPython history in a folder of this test process, not
# in the user's ~/.ipython (and two test processes never write the same one).
os.environ["IPYTHONDIR"] = tempfile.mkdtemp(prefix="pruning-lessons-ipython-")
atexit.register(shutil.rmtree, os.environ["IPYTHONDIR"], ignore_errors=True)
