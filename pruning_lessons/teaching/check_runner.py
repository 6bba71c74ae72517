"""Run one exercise's check on one submission, in a fresh process (started by the grader).

``python -E -c BOOTSTRAP CONFIG`` runs :func:`main` in a sandbox (see :mod:`.sandbox`). The
process imports the checks *before* any student code, keeps its own handles on them (the bound
``check`` method, the results descriptor, a random token read from stdin), then:

1. builds the submission from the notebook's definitions only (:func:`definitions`): imports,
   plain ``def`` statements and constant assignments; every other top-level statement is
   dropped, so a cell that patches ``Exercise.check``, sets ``fn.learners_function``, prints the
   result marker, execs a notebook or starts a process never runs;
2. while student code runs (every call the check makes to the function; the definitions run
   nothing but the imports), an audit hook (PEP 578, which code in the process cannot remove)
   refuses writes outside the scratch folder, reading the other submissions, the solutions or
   the exercises' source, starting processes, sockets and ctypes; a profiler notes any call of
   a reference solution's own function object;
3. after each call it checks that the checker, this package's functions and methods, the
   builtins and the torch functions the checks compare with are still the objects they were;
4. writes one line, ``token + JSON``, to the results descriptor. Any refusal, reference call or
   tampering makes the row ``flagged`` (0 points), whatever the check said.
"""

from __future__ import annotations

import ast
import json
import os
import sys

READY = "ready"  # the line that says start-up is over and the check's time limit starts
STATUSES = ("correct", "incorrect", "not attempted", "missing", "error", "timed out", "flagged")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
#: Audit events naming a path, and whether they change it (True) or only read it (False).
_PATH_EVENTS = {"os.listdir": False, "os.scandir": False, "os.remove": True, "os.rename": True}
_PATH_EVENTS |= {"os.rmdir": True, "os.mkdir": True, "shutil.rmtree": True, "os.symlink": True}
_PATH_EVENTS |= {"os.link": True, "os.truncate": True, "os.utime": True}
#: Defaults and constant assignments may only be these (anything else runs code at def time).
_PLAIN = (ast.Constant, ast.Name, ast.Attribute, ast.Tuple, ast.List, ast.UnaryOp)


def _plain(node: ast.AST | None) -> bool:
    return node is None or all(isinstance(n, (*_PLAIN, ast.Load, ast.USub)) for n in ast.walk(node))


def _kept(node: ast.stmt) -> bool:
    if isinstance(node, ast.Import | ast.ImportFrom):
        return True
    if isinstance(node, ast.FunctionDef):
        args = node.args
        return not node.decorator_list and all(map(_plain, [*args.defaults, *args.kw_defaults]))
    if isinstance(node, ast.Assign):
        return all(isinstance(t, ast.Name) for t in node.targets) and _plain(node.value)
    return False


def definitions(sources: list[str]) -> tuple[list[str], list[str]]:
    """The code cells reduced to imports, plain defs and constants (one source per statement,
    in order); and where the dropped statements were."""
    kept, dropped = [], []
    for number, source in enumerate(sources, start=1):
        try:
            tree = ast.parse(source)
        except SyntaxError as error:
            dropped.append(f"cell {number}: a syntax error ({error.msg})")
            continue
        for node in tree.body:
            target = kept if _kept(node) else dropped
            target.append(
                ast.unparse(node) if target is kept else f"cell {number}, line {node.lineno}"
            )
    return kept, dropped


class Guard:
    """The audit hook and profiler that watch student code (active only while it runs)."""

    REFUSED_EVENTS = ("subprocess.", "os.fork", "os.exec", "os.posix_spawn", "os.spawn")
    REFUSED_EVENTS += ("os.system", "os.kill", "os.killpg", "socket.", "ctypes.", "pty.")
    REFUSED_EVENTS += ("sys.addaudithook", "os.chdir", "os.chmod")

    def __init__(self, scratch: str, hidden: list[str], references: set[int]) -> None:
        self.scratch = os.path.realpath(scratch)
        self.hidden = [os.path.realpath(h) for h in hidden if h]
        self.references = references  # id() of each reference solution's code object
        self.active = False
        self.violations: list[str] = []

    def _path_refused(self, path: str, writing: bool) -> str | None:
        real = os.path.realpath(path)
        if any(real == h or real.startswith(h + os.sep) for h in self.hidden):
            return f"read {path}"
        if writing and not (real == self.scratch or real.startswith(self.scratch + os.sep)):
            return f"write {path}"
        if real.startswith("/proc/") and any(p in real for p in ("/fd", "/mem", "/environ")):
            return f"open {path}"
        return None

    def audit(self, event: str, args: tuple) -> None:
        if not self.active:
            return
        problem = None
        if event == "open":
            path, mode, flags = (*args, None, None)[:3]
            writing = any(c in (mode or "") for c in "wax+") or bool((flags or 0) & _WRITE_FLAGS)
            if isinstance(path, int):
                problem = f"open file descriptor {path}"
            elif path is not None:
                problem = self._path_refused(os.fsdecode(path), writing)
        elif event.startswith(self.REFUSED_EVENTS):
            problem = event
        elif event in _PATH_EVENTS and args and isinstance(args[0], str | bytes):
            problem = self._path_refused(os.fsdecode(args[0]), _PATH_EVENTS[event])
        if problem:
            self.violations.append(problem)
            raise PermissionError(f"not allowed while grading: {problem}")

    def profile(self, frame, event, arg) -> None:
        if event == "call" and id(frame.f_code) in self.references:
            self.violations.append(f"called the reference solution {frame.f_code.co_name}")


#: torch functions and tensor methods the checks compare with (torch itself rebinds some others,
#: such as ``torch.manual_seed``, on first use, so all of torch cannot be watched).
_TORCH = ("equal", "allclose", "isclose", "is_tensor", "count_nonzero", "argsort", "tensor")
_TENSOR = ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "tolist", "item", "all")
_TENSOR += ("any", "sum", "abs", "equal", "allclose", "numel", "__bool__")


def _snapshot() -> dict:
    """The identity of the callables the checks rely on (this package's functions and its
    classes' methods, builtins, the torch functions above), to notice a patch."""
    import torch

    found = {("torch", n): id(getattr(torch, n, None)) for n in _TORCH}
    found |= {("Tensor", n): id(getattr(torch.Tensor, n, None)) for n in _TENSOR}
    names = [m for m in sys.modules if m.startswith("pruning_lessons")]
    for module in names + ["builtins", "math", "copy"]:
        namespace = getattr(sys.modules.get(module), "__dict__", None) or {}
        for attr, value in list(namespace.items()):
            if callable(value):
                found[module, attr] = id(value)
            if isinstance(value, type) and module.startswith("pruning_lessons"):
                for method, function in list(vars(value).items()):
                    found[module, f"{attr}.{method}"] = id(function)
    return found


def run(config: dict, token: str, results_fd: int) -> None:
    """Grade ``config["key"]`` for the submission in ``config``; write one result line."""
    import torch

    torch.set_num_threads(1)
    from pruning_lessons.teaching.exercises import ALL

    exercise = ALL[config["key"]]
    check = exercise.check  # bound before any student code: patching the class changes nothing
    codes = [e.reference.__code__ for e in ALL.values()]
    references = {id(code) for code in codes}
    guard = Guard(config["scratch"], config["hidden"], references)
    sys.addaudithook(guard.audit)
    write = os.write

    def report(status: str, message: str) -> None:
        if guard.violations:
            status, message = "flagged", "refused: " + "; ".join(dict.fromkeys(guard.violations))
        line = token + json.dumps({"key": config["key"], "status": status, "message": message})
        write(results_fd, (line + "\n").encode())

    import linecache

    linecache.clearcache()  # the references' source is read from disk, where the guard sees it
    before = _snapshot()
    write(results_fd, (token + READY + "\n").encode())  # the time limit starts now
    namespace: dict = {"__name__": "__submission__"}
    for statement in config["statements"]:  # imports, plain defs, constants: nothing of theirs runs
        try:  # one that fails (a name a dropped cell would have made) is skipped, as in a kernel
            code = compile("from __future__ import annotations\n" + statement, "<cell>", "exec")
            exec(code, namespace)  # noqa: S102
        except Exception:  # noqa: BLE001, S112
            continue
    name = exercise.reference.__name__
    fn = namespace.get(name)
    if not callable(fn):
        report("missing", f"no function named {name} was defined")
        return
    if id(getattr(fn, "__code__", None)) in references:
        report("flagged", f"{name} is the reference solution itself, not the student's code")
        return

    def guarded(*args, **kwargs):
        guard.active = True
        sys.setprofile(guard.profile)
        try:
            return fn(*args, **kwargs)
        finally:
            sys.setprofile(None)
            guard.active = False
            now = _snapshot()
            if any(now.get(k) != v for k, v in before.items()):
                guard.violations.append("changed the checker or a library it uses")

    try:
        feedback = check(guarded)
    except KeyboardInterrupt:
        report("timed out", f"the check ran longer than {config['timeout']} s")
        return
    report(feedback.status, feedback.message)


BOOTSTRAP = """
import json, os, sys
sys.path[:] = [p for p in sys.path if p not in ("", ".")]
sys.path.insert(0, sys.argv[1])
from pruning_lessons.teaching.check_runner import run
config = json.load(open(sys.argv[2], encoding="utf-8"))
os.remove(sys.argv[2])
run(config, sys.stdin.readline().strip(), int(sys.argv[3]))
"""
