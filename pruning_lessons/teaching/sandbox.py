"""Start one check runner (:mod:`.check_runner`) isolated, with limits, and stop it for sure.

Isolation, best first: `bubblewrap <https://github.com/containers/bubblewrap>`_ (``bwrap``) where
it is installed and works: a read-only view of the machine, a fresh ``/tmp``, the submissions,
solutions and notebooks folders hidden, only the scratch folder writable, no network, its own
process namespace (when it goes, every process started in it goes). Otherwise the fallback:
the same audit-hook guard inside the runner, resource limits (CPU time, memory, file size, open
files, no core dumps) and a session of its own. Either way the environment is scrubbed (no
inherited variables, so no secrets), stdout and stderr go to files (never pipes a stray process
could hold open), and a check that runs past its time limit gets SIGINT, then SIGKILL for its
whole process group, and every process it started anywhere below the grader is killed too (the
grader makes itself a *child subreaper*, so processes that detach with ``setsid`` are still its
descendants).
"""

from __future__ import annotations

import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

GRACE_SECONDS = 5  # after SIGINT, before SIGKILL
STARTUP_SECONDS = 300  # to start Python and import torch and the checks, before the time limit
MEMORY_BYTES = 8 << 30  # address space: torch alone maps a few GiB
FILE_BYTES = 64 << 20
OPEN_FILES = 512


@dataclass(frozen=True)
class Outcome:
    """What one runner left: its result lines (token removed), lines without the token, whether
    it timed out, its return code and its last line on stderr."""

    lines: list[str]
    foreign: int
    timed_out: bool
    returncode: int | None
    stderr_tail: str


def bubblewrap() -> str | None:
    """The ``bwrap`` program if it is installed and can create a sandbox here, else None."""
    path = shutil.which("bwrap")
    if path is None:
        return None
    probe = [path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all"]
    try:
        done = subprocess.run([*probe, "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if done.returncode == 0 else None


def _limits(cpu_seconds: int) -> None:
    """Resource limits of the runner (called in the child before it starts)."""
    os.setsid()
    for limit, value in (
        (resource.RLIMIT_CPU, cpu_seconds),
        (resource.RLIMIT_AS, MEMORY_BYTES),
        (resource.RLIMIT_FSIZE, FILE_BYTES),
        (resource.RLIMIT_NOFILE, OPEN_FILES),
        (resource.RLIMIT_CORE, 0),
    ):
        soft, hard = resource.getrlimit(limit)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (value, hard))


def become_subreaper() -> bool:
    """Make this process adopt orphaned descendants (Linux ``PR_SET_CHILD_SUBREAPER``)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(parent, []).append(int(entry))
    return tree


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, found through /proc."""
    tree, found, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_all_below_us() -> None:
    """SIGKILL every process below the grader (runners and whatever they started), until none."""
    for _ in range(50):
        stray = descendants(os.getpid())
        if not stray:
            return
        for pid in stray:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        time.sleep(0.05)


def _environment(scratch: str) -> dict[str, str]:
    """A scrubbed environment: nothing inherited but what Python and torch need."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": scratch,
        "TMPDIR": scratch,
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "TQDM_DISABLE": "1",
        "OMP_NUM_THREADS": "1",
    }


def _command(bwrap: str | None, scratch: str, hidden: list[str], python_args: list[str]) -> list:
    command = [sys.executable, "-E", "-s", "-B", *python_args]  # -B: no .pyc written
    if bwrap is None:
        return command
    wrap = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    wrap += ["--tmpfs", "/tmp"]
    # what the check must read back after /tmp is emptied: this package and the interpreter's
    # environment (a CI venv, or any venv, may live under /tmp)
    needed = {str(Path(__file__).resolve().parents[2]), sys.prefix, sys.base_prefix}
    for folder in sorted(needed):
        if folder.startswith("/tmp/"):
            wrap += ["--ro-bind", folder, folder]
    for folder in hidden:
        if Path(folder).is_dir() and not folder.startswith("/tmp/"):
            wrap += ["--tmpfs", folder]
    wrap += ["--bind", scratch, scratch, "--chdir", scratch]
    wrap += ["--unshare-all", "--die-with-parent", "--"]
    return wrap + command


def run_isolated(
    config_json: str, *, timeout: int, hidden: list[str], bwrap: str | None
) -> Outcome:
    """Run the check runner on ``config_json`` (its ``scratch`` key is filled in here)."""
    import json

    from .check_runner import BOOTSTRAP, READY

    private = tempfile.mkdtemp(prefix="pl-grade-")  # results, token, outputs: never in the sandbox
    scratch = tempfile.mkdtemp(prefix="pl-scratch-")
    try:
        token = secrets.token_hex(16)
        exercises = str(Path(__file__).resolve().parent / "exercises")  # imported before: hide
        unseen = [*hidden, private, exercises]
        config = {**json.loads(config_json), "scratch": scratch, "hidden": unseen}
        config_path = Path(scratch) / "config.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")
        Path(private, "token").write_text(token + "\n", encoding="utf-8")
        results = os.open(Path(private, "results"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        package_parent = str(Path(__file__).resolve().parents[2])
        args = ["-c", BOOTSTRAP, package_parent, str(config_path), str(results)]
        with (
            open(Path(private, "token"), "rb") as stdin,
            open(Path(private, "out"), "wb") as out,
            open(Path(private, "err"), "wb") as err,
        ):
            process = subprocess.Popen(
                _command(bwrap, scratch, hidden, args),
                stdin=stdin,
                stdout=out,
                stderr=err,
                env=_environment(scratch),
                cwd=scratch,
                pass_fds=(results,),
                preexec_fn=lambda: _limits(timeout + 30),
            )
        os.close(results)
        timed_out = _wait(process, timeout, Path(private, "results"), token)
        kill_all_below_us()
        text = Path(private, "results").read_text(encoding="utf-8", errors="replace")
        error = Path(private, "err").read_text(encoding="utf-8", errors="replace").strip()
        rows = [line for line in text.splitlines() if line != token + READY]
        return Outcome(
            lines=[line[len(token) :] for line in rows if line.startswith(token)],
            foreign=sum(not line.startswith(token) for line in rows),
            timed_out=timed_out,
            returncode=process.returncode,
            stderr_tail=(error.splitlines() or [""])[-1][:300],
        )
    finally:
        shutil.rmtree(private, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)


def _wait(process: subprocess.Popen, timeout: int, results: Path, token: str) -> bool:
    """Wait for start-up, then up to ``timeout`` s; then SIGINT, then SIGKILL the group.

    Returns True if it timed out. Start-up (Python, torch, the checks) ends when the runner
    writes its ready line, or after ``STARTUP_SECONDS``.
    """
    from .check_runner import READY

    ready = (token + READY).encode()
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        if results.read_bytes().startswith(ready):
            break
        time.sleep(0.1)
    try:
        process.wait(timeout)
        return False
    except subprocess.TimeoutExpired:
        pass
    for sig, patience in ((signal.SIGINT, GRACE_SECONDS), (signal.SIGKILL, GRACE_SECONDS)):
        try:
            os.killpg(process.pid, sig)
        except OSError:
            pass
        try:
            process.wait(patience)
            break
        except subprocess.TimeoutExpired:
            continue
    return True
