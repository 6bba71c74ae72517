"""Interview review: a bilingual question bank (English / 中文), grading, flash cards and a quiz.

The bank is data, ``teaching/quiz_data/questions.json``: one entry per question id holding both
languages, so English and Chinese always have the same questions with the same answers.
Everything here is a pure function of that data except :class:`QuizWidget` (a thin ipywidgets
wrapper, built by :func:`quiz_widget`) and :func:`print_quiz`, its plain-text fallback where
widgets do not render.

Multiple-choice answers are graded automatically. Short answers are **self-assessed**: no
keyword count can tell a right answer from one that uses the same words to say the opposite, so
the learner writes an answer, then sees the model answer and its key points as a checklist and
ticks the points they made (:func:`grade_short` with ``ticked``). A key point lists accepted
wordings separated by ``|``, e.g. ``"fine-tuning|fine-tune|retrain"`` (its first is its label).
No word count labels the key points as "mentioned": on reversed claims, keyword lists,
synonyms and answers in Chinese such labels misled (issue #23), so the learner's answer is shown
beside the model answer and the learner alone decides.

Modules: :mod:`.bank` (the questions and topics), :mod:`.marking` (grading and the score),
:mod:`.sessions` (mock interview, flash cards, plain text) and :mod:`.widget` (the widget).
"""

from .bank import KINDS, LANGUAGES, Question, load_bank, topic_title, topics
from .marking import PASS_MARK, Result, Summary, grade_choice, grade_short, score
from .sessions import MODES, flash_cards, mock_interview, plain_text, print_quiz
from .widget import QuizWidget, quiz_widget

__all__ = [
    "KINDS",
    "LANGUAGES",
    "MODES",
    "PASS_MARK",
    "Question",
    "QuizWidget",
    "Result",
    "Summary",
    "flash_cards",
    "grade_choice",
    "grade_short",
    "load_bank",
    "mock_interview",
    "plain_text",
    "print_quiz",
    "quiz_widget",
    "score",
    "topic_title",
    "topics",
]
