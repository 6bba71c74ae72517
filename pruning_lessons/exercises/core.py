"""The checking machinery behind every exercise: check, hint, solution, use.

An :class:`Exercise` holds a reference solution, a list of *properties* (small functions that
try the learner's function on a fixed case and return a plain-words complaint, or ``None``)
and a ladder of hints. Properties never reveal the expected tensor: they say what is wrong
("3 weights are pruned, the target asks for 4"), not what the answer is.
"""

from __future__ import annotations

import html
import inspect
import textwrap
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Property = Callable[[Callable], "str | None"]

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
        """What the student notebook's placeholder raises."""
        return (
            f"Exercise {self.key} ({self.title}) is not attempted yet: replace this line with "
            f"your code. Stuck? Run {self.short}.hint(1)."
        )

    @property
    def short(self) -> str:
        """The name the notebook uses for this exercise (``ex1``)."""
        return self.key.split(".")[-1]

    def check(self, fn: Callable) -> Feedback:
        """Run every property on ``fn``; report the first that fails, in plain words."""
        if not callable(fn):
            return Feedback(self.key, "incorrect", f"expected a function, got {type(fn).__name__}")
        for prop in self.properties:
            try:
                problem = prop(fn)
            except NotImplementedError:
                return Feedback(
                    self.key,
                    "not attempted",
                    "write your code in place of the "
                    f"`raise NotImplementedError(...)` line, then run {self.short}."
                    "check again.",
                )
            except Exception as error:  # noqa: BLE001 -- any crash is feedback for the learner
                return Feedback(
                    self.key, "incorrect", f"your function raised {type(error).__name__}: {error}"
                )
            if problem:
                return Feedback(self.key, "incorrect", problem)
        return Feedback(self.key, "correct", f"all {len(self.properties)} checks passed.")

    def hint(self, level: int = 1) -> Text:
        """Hint ``level`` (1 = a nudge ... last = nearly the answer)."""
        if isinstance(level, bool) or not isinstance(level, int):
            raise TypeError(f"level must be an int from 1 to {len(self.hints)}")
        if not 1 <= level <= len(self.hints):
            raise ValueError(f"level must be from 1 to {len(self.hints)}, got {level}")
        return Text(f"Hint {level}/{len(self.hints)} for {self.key}", self.hints[level - 1])

    def solution(self) -> Text:
        """The reference solution's source code."""
        source = textwrap.dedent(inspect.getsource(self.reference))
        return Text(f"Reference solution for {self.key}", source, code=True)

    def use(self, fn: Callable) -> Callable:
        """``fn`` if it passes :meth:`check`; otherwise the reference, with a visible warning.

        So the rest of the notebook runs even for a learner who is stuck on this exercise.
        """
        feedback = self.check(fn)
        if feedback:
            return fn
        warnings.warn(
            f"{self.key}: using the reference solution because your function is "
            f"{feedback.status} ({feedback.message})",
            UserWarning,
            stacklevel=2,
        )
        return self.reference
