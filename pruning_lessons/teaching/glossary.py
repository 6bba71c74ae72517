"""A bilingual glossary (English / 中文) of the pruning terms the course and the interview use.

The terms live in ``quiz_data/glossary.json``. :func:`glossary` returns plain rows;
:func:`glossary_table` wraps them in a table that renders as HTML in JupyterLab and as
indented plain text with ``print``.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from .quiz import LANGUAGES

_HEADERS = {
    None: ("English", "中文", "Definition", "定义"),
    "en": ("English", "中文", "Definition"),
    "zh": ("中文", "English", "定义"),
}


@dataclass(frozen=True)
class Term:
    """One glossary entry: the term and a one-sentence definition in each language."""

    en: str
    zh: str
    en_definition: str
    zh_definition: str


@cache
def terms() -> tuple[Term, ...]:
    """Every term, in the order the course introduces them."""
    path = resources.files(__package__) / "quiz_data" / "glossary.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return tuple(Term(**row) for row in data["terms"])


def glossary(lang: str | None = None) -> list[tuple[str, ...]]:
    """The glossary as rows of strings.

    ``lang=None``: (English, 中文, English definition, 中文定义); ``"en"``: (English, 中文,
    definition); ``"zh"``: (中文, English, 定义), so the reader's language comes first.
    """
    if lang is None:
        return [(t.en, t.zh, t.en_definition, t.zh_definition) for t in terms()]
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be None or one of {LANGUAGES}, got {lang!r}")
    if lang == "en":
        return [(t.en, t.zh, t.en_definition) for t in terms()]
    return [(t.zh, t.en, t.zh_definition) for t in terms()]


class GlossaryTable(list):
    """Glossary rows that render as an HTML table in JupyterLab and as plain text in a terminal."""

    def __init__(self, rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
        super().__init__(rows)
        self.header = header

    def _repr_html_(self) -> str:
        def row(cells: tuple[str, ...], tag: str) -> str:
            inner = "".join(
                f"<{tag} style='text-align:left'>{html.escape(c)}</{tag}>" for c in cells
            )
            return f"<tr>{inner}</tr>"

        body = "".join(row(r, "td") for r in self)
        return f"<table><thead>{row(self.header, 'th')}</thead><tbody>{body}</tbody></table>"

    def __str__(self) -> str:
        blocks = [f"{r[0]} · {r[1]}\n" + "\n".join(f"    {d}" for d in r[2:]) for r in self]
        return "\n\n".join(blocks)


def glossary_table(lang: str | None = None) -> GlossaryTable:
    """The glossary as a table: both languages by default, or the reader's ``lang`` first."""
    return GlossaryTable(glossary(lang), _HEADERS[lang])
