"""The checking machinery behind every exercise: check, hint, solution, use.

An :class:`Exercise` holds a reference solution, a list of *properties* (small functions that
try the learner's function on a fixed case and return a plain-words complaint, or ``None``)
and a ladder of hints. Properties never reveal the expected tensor: they say what is wrong
("3 weights are pruned, the target asks for 4"), not what the answer is.
"""

from __future__ import annotations

import functools
import html
import inspect
import textwrap
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

Property = Callable[[Callable], "str | None"]

#: The stand-ins :meth:`Exercise.use` made in this process. Only these are unwrapped to the
#: learner's function they remember: a function that merely *has* a ``learners_function``
#: attribute (``fn.learners_function = ex.reference``) is judged as it is.
_STAND_INS: weakref.WeakSet = weakref.WeakSet()


def learners_code(fn: Callable) -> Callable:
    """The learner's own function behind ``fn``: unwrapped only if :meth:`Exercise.use` made it."""
    try:
        made_by_use = fn in _STAND_INS
    except TypeError:  # an unhashable callable object was never a stand-in
        made_by_use = False
    return fn.learners_function if made_by_use else fn


_STYLE = {
    "correct": ("#e6f4ea", "#137333", "Correct"),
    "incorrect": ("#fce8e6", "#a50e0e", "Incorrect"),
    "not attempted": ("#f1f3f4", "#3c4043", "Not attempted yet"),
}


@dataclass(frozen=True)
class Feedback:
    """The verdict of :meth:`Exercise.check`; shows as a coloured box in JupyterLab."""

    exercise: str
    status: str  # "correct", "incorrect" or "not attempted"
    message: str

    def __bool__(self) -> bool:
        return self.status == "correct"

    def __str__(self) -> str:
        return f"[{self.exercise}] {_STYLE[self.status][2]}: {self.message}"

    def _repr_html_(self) -> str:
        background, colour, word = _STYLE[self.status]
        return (
            f'<div style="background:{background};border-left:4px solid {colour};'
            f'padding:6px 10px;margin:4px 0"><b style="color:{colour}">{word}</b> '
            f"<span>({html.escape(self.exercise)})</span><br>{html.escape(self.message)}</div>"
        )


@dataclass(frozen=True)
class Text:
    """A hint or a solution: Markdown-ish in JupyterLab, plain text in a terminal."""

    title: str
    body: str
    code: bool = False

    def __str__(self) -> str:
        return f"{self.title}\n{self.body}"

    def _repr_html_(self) -> str:
        body = html.escape(self.body)
        body = f"<pre>{body}</pre>" if self.code else f"<p>{body}</p>"
        return f"<div><b>{html.escape(self.title)}</b>{body}</div>"


@dataclass(frozen=True)
class Notice:
    """What :meth:`Exercise.use` shows when it stands in the reference for the learner's code."""

    exercise: str
    feedback: Feedback

    @property
    def message(self) -> str:
        if self.feedback.status == "not attempted":
            state = "is not attempted yet"
        else:  # say what is wrong, without the message's own full stop
            state = f"does not pass yet ({self.feedback.message.rstrip('. ')})"
        return (
            f"{self.exercise} {state}: the rest of the notebook uses the reference solution "
            "until yours passes."
        )

    def __str__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        background, colour, _ = _STYLE[self.feedback.status]
        return (
            f'<div class="pl-notice" style="background:{background};border-left:4px solid '
            f'{colour};padding:2px 10px;margin:2px 0;font-size:90%">'
            f"{html.escape(self.message)}</div>"
        )


def _show(notice: Notice) -> None:
    """Display ``notice`` as rich output in a notebook, or print it in a terminal."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # no IPython at all: a plain script
        print(notice)
        return
    if get_ipython() is None:
        print(notice)
    else:
        display(notice)


class Exercise:
    """One exercise: ``check(fn)``, ``hint(level)``, ``solution()``, ``use(fn)``."""

    def __init__(
        self,
        key: str,
        title: str,
        reference: Callable,
        properties: Sequence[Property],
        hints: Sequence[str],
    ) -> None:
        self.key, self.title, self.reference = key, title, reference
        self.properties, self.hints = list(properties), list(hints)

    def __repr__(self) -> str:
        return f"Exercise({self.key!r}: {self.title})"

    @property
    def stub_message(self) -> str:
        """What the student notebook's placeholder raises (short: it fits the cell's width)."""
        return f"{self.key}: replace this line with your code"

    @property
    def stub_comment(self) -> str:
        """The comment above the placeholder, pointing at the hints."""
        return f"YOUR CODE HERE (stuck? run {self.short}.hint(1) in a new cell)"

    @property
    def short(self) -> str:
        """The name the notebook uses for this exercise (``ex1``)."""
        return self.key.split(".")[-1]

    def check(self, fn: Callable) -> Feedback:
        """Run every property on ``fn``; report the first that fails, in plain words.

        The learner's code is judged, always: given the stand-in that :meth:`use` returned,
        the check runs on the learner's own function that it stands in for.
        """
        if not callable(fn):
            return Feedback(self.key, "incorrect", f"expected a function, got {type(fn).__name__}")
        fn = learners_code(fn)
        calls: list[tuple] = []

        def recorded(*args, **kwargs):
            calls.append(args + tuple(kwargs.values()))
            return fn(*args, **kwargs)

        for prop in self.properties:
            calls.clear()
            try:
                problem = prop(recorded)
            except NotImplementedError:
                return Feedback(
                    self.key,
                    "not attempted",
                    "write your code in place of the "
                    f"`raise NotImplementedError(...)` line, then run {self.short}."
                    "check again.",
                )
            except Exception as error:  # noqa: BLE001 -- any crash is feedback for the learner
                where = f" when called with ({describe(calls[-1])})" if calls else ""
                return Feedback(
                    self.key,
                    "incorrect",
                    f"your function raised {type(error).__name__}{where}: {error}",
                )
            if problem:
                return Feedback(self.key, "incorrect", problem)
        return Feedback(self.key, "correct", f"all {len(self.properties)} checks passed.")

    def hint(self, level: int = 1) -> Text:
        """Hint ``level`` (1 = a nudge ... last = nearly the answer); past the last, a note."""
        if isinstance(level, bool) or not isinstance(level, int):
            raise TypeError(f"level must be an int from 1 to {len(self.hints)}")
        last = len(self.hints)
        if not 1 <= level <= last:
            return Text(
                f"No hint {level} for {self.key}",
                f"The hints go from {self.short}.hint(1) to {self.short}.hint({last}). Still "
                f"stuck after hint {last}? {self.short}.solution() shows a reference solution.",
            )
        return Text(f"Hint {level}/{last} for {self.key}", self.hints[level - 1])

    def solution(self) -> Text:
        """The reference solution's source code."""
        source = textwrap.dedent(inspect.getsource(self.reference))
        return Text(f"Reference solution for {self.key}", source, code=True)

    def use(self, fn: Callable) -> Callable:
        """``fn`` if it passes :meth:`check`; otherwise a stand-in, with a short notice.

        The stand-in computes what the reference solution computes, so the rest of the notebook
        runs even for a learner who is stuck. It remembers the learner's function
        (``learners_function``), and :meth:`check` judges that one: a notebook that writes
        ``fn = ex.use(fn)`` and checks ``fn`` again still hears "not attempted" or "incorrect".
        The notice is a styled line in the cell's output (plain text in a terminal), not a
        warning: skipping an exercise is allowed, not an error.
        """
        fn = learners_code(fn)
        feedback = self.check(fn)
        if feedback:
            return fn
        _show(Notice(self.key, feedback))
        reference = self.reference

        @functools.wraps(reference)
        def stand_in(*args, **kwargs):
            return reference(*args, **kwargs)

        stand_in.learners_function = fn
        stand_in.exercise = self.key
        _STAND_INS.add(stand_in)
        return stand_in

    def in_use(self, fn: Callable) -> str:
        """Whose code ``fn`` (what :meth:`use` returned) runs: "your" or "the reference"."""
        return "the reference" if learners_code(fn) is not fn else "your"


def describe(args: tuple) -> str:
    """The inputs of a call in a few words: shapes for tensors, names for modules."""

    def one(value) -> str:
        if isinstance(value, torch.Tensor):
            dtype = str(value.dtype).removeprefix("torch.")
            return f"a {dtype} tensor of shape {tuple(value.shape)}"
        if isinstance(value, nn.Module):
            return repr(value) if len(repr(value)) < 60 else type(value).__name__
        if isinstance(value, dict):
            return f"a dict of {len(value)} ({', '.join(map(repr, list(value)[:4]))})"
        if isinstance(value, torch.optim.Optimizer) or len(repr(value)) > 60:
            return type(value).__name__
        return repr(value)

    return ", ".join(one(a) for a in args)
