"""The "mentioned / not yet mentioned" aid for short answers: a reading help, never a verdict.

A short answer is judged by the learner, who ticks the key points they made (see
:func:`~.quiz.grade_short`). This module only points at the key points an answer
seems to *state*, and it errs on the side of "not yet mentioned":

* a wording counts only as a **whole term**: "structured" does not match inside "unstructured",
  "filter" does match "filters" (a plural or verb ending is allowed on the last word);
  Chinese has no spaces, so a Chinese wording is matched as a run of characters;
* a wording (of two or more characters) that the question itself uses does not count:
  copying the question back says nothing new;
* nothing in a **negated** clause counts ("no need for seeds", "never matter", "不用置零"): in
  English a clause runs to the end of its sentence, in Chinese to the next comma; a contrast
  word (but, while, whereas, 但, 而 ...) starts a new one;
* a **reversal** (a clause that states the opposite of the model answer, e.g. "structured
  pruning keeps more accuracy") is listed per question in ``quiz_data/reversals.json``; when one
  is found, no key point of that answer counts and the aid says so;
* a bare **list of terms** counts nothing: an interviewer wants each point explained.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

_SUFFIXES = ("", "s", "es", "d", "ed", "ing", "ly")
_CJK = re.compile(r"[\u3400-\u9fff]")
# A negation reaches to the end of its sentence in English ("Nothing changes: the rows, the
# columns ..."), but Chinese strings long sentences together with commas, so there a comma or a
# colon ends it too. (NFKC has already turned full-width punctuation into ASCII.)
_SENTENCE_END = r"\.(?=\s|$)|[;!?\n。]"
_CONTRAST = r"|\b(?:but|while|whereas|although|though|however|unlike|instead|yet)\b"
_CLAUSE_BREAK = {
    "en": re.compile(_SENTENCE_END + _CONTRAST),
    "zh": re.compile(_SENTENCE_END + r"|[,:()]" + _CONTRAST + r"|但是|但|而是|而|不过|然而|却"),
}
_LIST_SPLIT = re.compile(r"[.;:!?,()\[\]\n。；：！？，（）、/]|\band\b|\bor\b")
_NEGATION_EN = frozenset(
    "not no never none nothing nobody without neither nor cannot useless pointless "
    "irrelevant unnecessary needless hardly wrong false".split()
)
_NEGATION_ZH = (
    "不是",
    "不用",
    "不必",
    "不需",
    "无需",
    "无须",
    "没有",
    "没",
    "不会",
    "不能",
    "从不",
    "别",
    "不要",
    "无关",
    "无用",
    "没用",
    "毫无",
    "不影响",
    "不重要",
    "并非",
)

NOTES = {
    "en": {
        "reversal": "Your answer seems to state the opposite of the model answer here: {clause!r}. "
        "Compare the two before you tick anything.",
        "list": "This reads as a list of terms. In an interview, say in a sentence what each "
        "term has to do with the question.",
        "empty": "Nothing written yet: answer first, then compare with the model answer.",
    },
    "zh": {
        "reversal": "你的回答这一处似乎与参考答案相反：“{clause}”。打勾之前请对照一下。",
        "list": "这像是一串术语。面试时请用句子说明每个术语与问题的关系。",
        "empty": "还没有作答：先写出你的回答，再对照参考答案。",
    },
}


@dataclass(frozen=True)
class Aid:
    """Per key point (its label) whether the answer seems to mention it, plus notes to read."""

    points: tuple[tuple[str, bool], ...]
    notes: tuple[str, ...] = ()

    @property
    def mentioned(self) -> tuple[str, ...]:
        """The labels of the key points the answer seems to mention."""
        return tuple(label for label, found in self.points if found)


def normalise(text: str) -> str:
    """NFKC, case-folded, curly quotes straightened: the form every comparison uses."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return text.replace("\u2019", "'").replace("\u2018", "'")


def _tokens(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text)


def _en_spans(clause: str, wording: str) -> list[tuple[int, int]]:
    """Token spans of ``clause`` that spell ``wording`` as whole words (spaces/hyphens free)."""
    target = "".join(_tokens(normalise(wording)))
    if not target:
        return []
    words = _tokens(clause)
    spans = []
    for start in range(len(words)):
        joined = ""
        for end in range(start, len(words)):
            joined += words[end]
            if len(joined) >= len(target):
                if joined.startswith(target) and joined[len(target) :] in _SUFFIXES:
                    spans.append((start, end + 1))
                break
    return spans


def _zh_spans(clause: str, wording: str) -> list[tuple[int, int]]:
    needle = normalise(wording).replace(" ", "")
    squeezed = clause.replace(" ", "")
    return [(m.start(), m.start() + len(needle)) for m in re.finditer(re.escape(needle), squeezed)]


def _spans(clause: str, wording: str) -> list[tuple[int, int]]:
    """Where ``wording`` occurs in ``clause`` (token positions, or characters for Chinese)."""
    if _CJK.search(wording):
        return [(-1 - a, -1 - b) for a, b in _zh_spans(clause, wording)]  # keep apart from tokens
    return _en_spans(clause, wording)


def _wordings(key_point: str) -> list[str]:
    return [w.strip() for w in key_point.split("|") if w.strip()]


def _negated(clause: str, found: list[str]) -> bool:
    """Whether a negation word occurs in ``clause`` outside the key terms ``found``."""
    if any(t in _NEGATION_EN or t.endswith("n't") for t in re.findall(r"[\w']+", clause)):
        return True
    rest = clause.replace(" ", "")
    for term in sorted(found, key=len, reverse=True):
        rest = rest.replace(normalise(term).replace(" ", ""), "|")
    return any(cue in rest for cue in _NEGATION_ZH)


def clauses(text: str, lang: str = "en") -> list[str]:
    """The normalised answer cut at punctuation and contrast words, empty pieces dropped."""
    return [c.strip() for c in _CLAUSE_BREAK[lang].split(normalise(text)) if c.strip()]


def _is_term_list(text: str) -> bool:
    """Every piece between separators is at most 3 words (or 4 Chinese characters)."""
    pieces = [p.strip() for p in _LIST_SPLIT.split(normalise(text)) if p.strip()]
    if len(pieces) < 2:
        return False

    def short(piece: str) -> bool:
        cjk = len(_CJK.findall(piece))
        return cjk <= 4 if cjk else len(_tokens(piece)) <= 3

    return all(short(p) for p in pieces)


@cache
def _reversals() -> dict:
    path = resources.files(__package__) / "quiz_data" / "reversals.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _position_spans(clause: str, pattern: str) -> list[tuple[int, int, int]]:
    """(start, lo, hi) of every wording of ``pattern``; start in reading order."""
    found = []
    for w in _wordings(pattern):
        for a, b in _spans(clause, w):
            start = a if a >= 0 else -1 - a
            found.append((start, min(a, b), max(a, b)))
    return found


def _reversed(clause: str, rule: dict) -> bool:
    """A rule fires when its claim follows its subject, with no rival subject in between.

    Where a subject and a rival overlap ("非结构化" holds "结构化"), the longer one is meant.
    """
    named = [(*m, "subject") for m in _position_spans(clause, rule["subject"])]
    named += [(*m, "rival") for m in _position_spans(clause, rule.get("rival", ""))]
    named.sort(key=lambda m: m[1] - m[2])  # longest first
    kept: list[tuple[int, int, int, str]] = []
    for m in named:
        if not any(m[1] < k[2] and k[1] < m[2] for k in kept):
            kept.append(m)
    claims = [
        c
        for c in _position_spans(clause, rule["claim"])
        if not any(c[1] < k[2] and k[1] < c[2] for k in kept)
    ]
    for claim_start, _, _ in claims:
        before = [(k[0], k[3]) for k in kept if k[0] < claim_start]
        if before and max(before)[1] == "subject":
            return True
    return False


def mention_aid(
    key_points: tuple[str, ...], answer: str, question: str = "", *, lang: str = "en", qid: str = ""
) -> Aid:
    """Which key points ``answer`` seems to mention, under the rules in the module docstring.

    ``key_points`` use ``|`` between accepted wordings; labels are their first wordings.
    """
    labels = tuple(k.split("|")[0].strip() for k in key_points)
    nothing = tuple((label, False) for label in labels)
    notes = NOTES[lang]
    if not answer.strip():
        return Aid(nothing, (notes["empty"],))
    if _is_term_list(answer):
        return Aid(nothing, (notes["list"],))
    asked = normalise(question)
    pieces = clauses(answer, lang)
    for rule in _reversals().get(qid, {}).get(lang, []):
        for clause in pieces:
            if not _negated(clause, []) and _reversed(clause, rule):
                return Aid(nothing, (notes["reversal"].format(clause=clause),))
    found = []
    for key in key_points:
        usable = [w for w in _wordings(key) if len(w) < 2 or not _spans(asked, w)]
        hit = False
        for clause in pieces:
            present = [w for w in usable if _spans(clause, w)]
            if present and not _negated(clause, present):
                hit = True
                break
        found.append(hit)
    return Aid(tuple(zip(labels, found, strict=True)))
