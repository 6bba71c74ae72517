"""Lesson 00's font check: a Chinese font installed after matplotlib built its font cache is
found without deleting the cache by hand (issue #25).

The font is made here with fontTools (a matplotlib dependency): two empty glyphs mapped to
中 and 文 are all the check reads.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from matplotlib import font_manager

import pruning_lessons as pl
from pruning_lessons.core import device


def _font_with_chinese(path: Path, family: str) -> Path:
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    names = [".notdef", "zhong", "wen"]
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap({ord("中"): "zhong", ord("文"): "wen"})
    empty = TTGlyphPen(None).glyph()
    builder.setupGlyf(dict.fromkeys(names, empty))
    builder.setupHorizontalMetrics(dict.fromkeys(names, (500, 0)))
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": family, "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    builder.save(str(path))
    return path


@pytest.fixture
def without_chinese_fonts(tmp_path, monkeypatch):
    """matplotlib's font manager as a copy without Chinese fonts, its cache folder in tmp_path.

    Both are put back afterwards, so the user's font cache is never written.
    """
    import matplotlib

    manager = copy.deepcopy(font_manager.fontManager)
    chinese = set(device._chinese(manager.ttflist))
    manager.ttflist = [f for f in manager.ttflist if f.name not in chinese]
    monkeypatch.setattr(font_manager, "fontManager", manager)
    monkeypatch.setattr(matplotlib, "get_cachedir", lambda: str(tmp_path))
    system = [p for p in font_manager.findSystemFonts() if device._chinese_file(p) is False]
    return manager, system


def test_a_chinese_font_installed_after_the_cache_was_built_is_found(
    tmp_path, monkeypatch, without_chinese_fonts
):
    manager, system = without_chinese_fonts
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: system)
    device.add_uncached_fonts()  # other fonts this machine got after its cache was built
    for old in tmp_path.glob("fontlist-*.json"):
        old.unlink()
    assert pl.chinese_fonts() == [], "no Chinese font yet"
    assert not list(tmp_path.glob("fontlist-*.json")), "nothing new: the cache stays as it is"

    font = _font_with_chinese(tmp_path / "pl-test-cjk.ttf", "PL Test CJK")
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: [*system, str(font)])
    assert pl.chinese_fonts() == ["PL Test CJK"]
    (cache,) = tmp_path.glob("fontlist-v*.json")
    saved = json.loads(cache.read_text(encoding="utf-8"))
    assert any(entry["fname"] == str(font) for entry in saved["ttflist"])
    assert manager.findfont("PL Test CJK", fallback_to_default=False) == str(font)
    assert device.add_uncached_fonts() == [], "a second look finds nothing new"
