"""Marking answers: multiple choice automatically, short answers by the learner's own ticks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .bank import LETTERS, UI, Question, check_language, topic_title, topics

PASS_MARK = 0.5  # a self-assessed short answer counts as right from half its key points ticked


@dataclass(frozen=True)
class Result:
    """The grade of one answer: ``score`` in [0, 1]; ``hits``/``misses`` name key points.

    ``marked`` is False for a short answer whose key points the learner has not ticked yet: it is
    neither right nor wrong, and scores 0, with no ``hits`` (every key point is in ``misses``
    until ticked); once ticked, they are the ticked / unticked points.
    """

    question_id: str
    topic: str
    correct: bool
    score: float
    feedback: str
    hits: tuple[str, ...] = ()
    misses: tuple[str, ...] = ()
    model_answer: str = ""
    marked: bool = True

    def __str__(self) -> str:
        return f"[{self.question_id}] {self.feedback}"


@dataclass(frozen=True)
class Summary:
    """Totals over a set of results; ``by_topic`` holds ``(topic, correct, answered)`` rows."""

    answered: int
    correct: int
    points: float
    by_topic: tuple[tuple[str, int, int], ...]
    unmarked: int = 0

    @property
    def fraction(self) -> float:
        """Fraction of answers that were correct (0 when nothing was answered)."""
        return self.correct / self.answered if self.answered else 0.0

    def text(self, lang: str = "en") -> str:
        """The summary as plain text in ``lang``, one line per topic after the total."""
        ui = UI[check_language(lang)]
        lines = [
            ui["summary"].format(
                correct=self.correct,
                answered=self.answered,
                fraction=self.fraction,
                points=self.points,
            )
        ]
        if self.unmarked:
            lines.append(ui["unmarked"].format(n=self.unmarked))
        known = topics()
        for t, c, a in self.by_topic:
            title = topic_title(t, lang) if t in known else t
            lines.append(f"  {title}{ui['colon']}{c}/{a}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text("en")


# --- grading --------------------------------------------------------------------------------


def key_point_label(key_point: str) -> str:
    """How a key point is shown: its first accepted wording."""
    return key_point.split("|")[0].strip()


def option_label(question: Question, index: int) -> str:
    return f"{LETTERS[index]}. {question.options[index]}"


def grade_choice(question: Question, chosen_index: int) -> Result:
    """Grade a multiple-choice answer given as the 0-based index of the chosen option."""
    if question.kind != "choice":
        raise ValueError(f"question {question.id} is a short-answer question; use grade_short")
    if isinstance(chosen_index, bool) or not isinstance(chosen_index, int):
        raise TypeError(f"chosen_index must be an int, got {type(chosen_index).__name__}")
    last = len(question.options) - 1
    if not 0 <= chosen_index <= last:
        raise ValueError(
            f"chosen_index must be between 0 and {last} for question {question.id}, "
            f"got {chosen_index}"
        )
    ui = UI[question.lang]
    correct = chosen_index == question.answer
    verdict = (
        ui["right"]
        if correct
        else ui["wrong"].format(answer=option_label(question, question.answer))
    )
    return Result(
        question_id=question.id,
        topic=question.topic,
        correct=correct,
        score=float(correct),
        feedback=f"{verdict}\n{question.explanation}",
        model_answer=question.model_answer,
    )


def _ticked_indices(question: Question, ticked: Iterable[int | str]) -> set[int]:
    labels = [key_point_label(k) for k in question.key_points]
    chosen = set()
    for item in ticked:
        if isinstance(item, str) and item in labels:
            chosen.add(labels.index(item))
        elif isinstance(item, int) and not isinstance(item, bool) and 0 <= item < len(labels):
            chosen.add(item)
        else:
            raise ValueError(
                f"ticked must hold key point indices 0..{len(labels) - 1} or labels {labels}, "
                f"got {item!r}"
            )
    return chosen


def yours(question: Question, text: str) -> str:
    """The learner's answer, labelled in the question's language, to read beside the model's."""
    ui = UI[question.lang]
    return ui["your_answer"] + ui["colon"] + (text.strip() or "-")


def grade_short(question: Question, text: str, ticked: Iterable[int | str] | None = None) -> Result:
    """A short answer: the model answer and key points to compare with, scored by the ticks.

    Without ``ticked`` the result is *unmarked* (``marked=False``, score 0, never "correct"):
    the feedback shows the learner's answer beside the model answer, and the key points as an
    unticked checklist. No word count labels them (issue #23 found "mentioned" labels misled on
    reversed claims, keyword lists, synonyms and Chinese). With ``ticked`` (key point indices
    or labels, the points the learner judges they made) the score is the share ticked, correct
    from ``PASS_MARK`` on.
    """
    if question.kind != "short":
        raise ValueError(f"question {question.id} is a multiple-choice question; use grade_choice")
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    ui = UI[question.lang]
    labels = [key_point_label(k) for k in question.key_points]
    model = ui["model_answer"] + ui["colon"] + question.model_answer
    if ticked is None:
        lines = [yours(question, text), model, ui["self_check"]]
        lines += [
            (ui["key_points"] + ui["colon"]).rstrip(),
            *(f"  [ ] {label}" for label in labels),
        ]
        return Result(
            question_id=question.id,
            topic=question.topic,
            correct=False,
            score=0.0,
            feedback="\n".join(lines),
            hits=(),
            misses=tuple(labels),
            model_answer=question.model_answer,
            marked=False,
        )
    chosen = _ticked_indices(question, ticked)
    hits = tuple(label for i, label in enumerate(labels) if i in chosen)
    misses = tuple(label for i, label in enumerate(labels) if i not in chosen)
    points = len(hits) / len(labels)
    lines = [ui["points"].format(hit=len(hits), total=len(labels))]
    for name, found_labels in (("covered", hits), ("missed", misses)):
        if found_labels:
            lines.append(ui[name] + ui["colon"] + ui["comma"].join(found_labels))
    lines.append(model)
    return Result(
        question_id=question.id,
        topic=question.topic,
        correct=points >= PASS_MARK,
        score=points,
        feedback="\n".join(lines),
        hits=hits,
        misses=misses,
        model_answer=question.model_answer,
    )


def score(results: Iterable[Result]) -> Summary:
    """Sum up graded answers: how many were correct, points (partial credit), per topic."""
    results = list(results)
    per_topic: dict[str, tuple[int, int]] = {}
    for r in results:
        correct, answered = per_topic.get(r.topic, (0, 0))
        per_topic[r.topic] = (correct + r.correct, answered + 1)
    order = [t for t in topics() if t in per_topic] + sorted(set(per_topic) - set(topics()))
    return Summary(
        answered=len(results),
        correct=sum(r.correct for r in results),
        points=sum(r.score for r in results),
        by_topic=tuple((t, *per_topic[t]) for t in order),
        unmarked=sum(not r.marked for r in results),
    )
