"""Lesson 09, the interview review: bilingual bank, grading, mock interviews, widget, glossary."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from pruning_lessons.teaching.glossary import glossary, glossary_table, terms
from pruning_lessons.teaching.quiz import (
    LANGUAGES,
    PASS_MARK,
    Result,
    flash_cards,
    grade_choice,
    grade_short,
    load_bank,
    mock_interview,
    plain_text,
    print_quiz,
    quiz_widget,
    score,
    topic_title,
    topics,
)

ROOT = Path(__file__).resolve().parents[1]
TOPICS = [
    "what",
    "structured_vs_weight",
    "where_used",
    "methods",
    "steps",
    "challenges",
    "ex_weight",
    "ex_structural",
    "llm",
]
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def banks():
    return {lang: load_bank(lang) for lang in LANGUAGES}


def _get(qid: str, lang: str = "en"):
    return next(q for q in load_bank(lang) if q.id == qid)


def _first(kind: str, lang: str = "en"):
    return next(q for q in load_bank(lang) if q.kind == kind)


# --- the bank -------------------------------------------------------------------------------


def test_topics_follow_the_course():
    assert topics() == TOPICS
    for topic in TOPICS:
        assert topic_title(topic, "en") and CJK.search(topic_title(topic, "zh"))
    with pytest.raises(ValueError, match="topic"):
        topic_title("nope")


def test_both_languages_hold_the_same_questions(banks):
    en, zh = banks["en"], banks["zh"]
    assert [q.id for q in en] == [q.id for q in zh]
    for a, b in zip(en, zh, strict=True):
        assert (a.topic, a.kind, a.answer) == (b.topic, b.kind, b.answer)
        assert len(a.options) == len(b.options)
        assert len(a.key_points) == len(b.key_points)
        assert (a.lang, b.lang) == ("en", "zh")


def test_ids_are_unique_and_named_after_their_topic(banks):
    ids = [q.id for q in banks["en"]]
    assert len(ids) == len(set(ids))
    for q in banks["en"]:
        assert re.fullmatch(rf"{q.topic}-\d\d", q.id), q.id


def test_at_least_40_questions_and_4_per_topic_of_both_kinds(banks):
    bank = banks["en"]
    assert len(bank) >= 40
    per_topic = Counter(q.topic for q in bank)
    assert set(per_topic) == set(TOPICS)
    assert min(per_topic.values()) >= 4, per_topic
    for topic in TOPICS:
        assert {q.kind for q in bank if q.topic == topic} == {"choice", "short"}, topic


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_choice_question_has_exactly_one_valid_answer(banks, lang):
    for q in banks[lang]:
        if q.kind != "choice":
            continue
        assert 3 <= len(q.options) <= 5, q.id
        assert len(set(q.options)) == len(q.options), q.id
        assert isinstance(q.answer, int) and 0 <= q.answer < len(q.options), q.id
        assert q.model_answer == q.options[q.answer]
        assert q.text and q.explanation and all(q.options), q.id


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_short_question_has_a_model_answer_and_key_points(banks, lang):
    for q in banks[lang]:
        if q.kind != "short":
            continue
        assert q.answer is None and not q.options
        assert q.text and len(q.model_answer) > 80, q.id
        assert 2 <= len(q.key_points) <= 4, q.id
        assert all(w.strip() for k in q.key_points for w in k.split("|")), q.id


@pytest.mark.parametrize("lang", LANGUAGES)
def test_even_the_model_answer_is_left_to_the_learner(banks, lang):
    """No word count marks a short answer, not even the model answer itself (issue #23)."""
    for q in banks[lang]:
        if q.kind == "short":
            result = grade_short(q, q.model_answer)
            assert not result.marked and not result.correct and result.score == 0.0
            assert result.hits == () and len(result.misses) == len(q.key_points)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_grade_choice_right_and_wrong(lang):
    q = _first("choice", lang)
    right = grade_choice(q, q.answer)
    assert right.correct and right.score == 1.0 and q.explanation in right.feedback
    wrong = grade_choice(q, (q.answer + 1) % len(q.options))
    assert not wrong.correct and wrong.score == 0.0
    assert q.options[q.answer] in wrong.feedback and q.options[q.answer] == wrong.model_answer
    assert right.feedback != wrong.feedback


@pytest.mark.parametrize("bad", [-1, 4, 99])
def test_grade_choice_rejects_indexes_out_of_range(bad):
    with pytest.raises(ValueError, match="chosen_index must be between 0 and 3"):
        grade_choice(_first("choice"), bad)


@pytest.mark.parametrize("bad", ["1", 1.0, None, True])
def test_grade_choice_rejects_indexes_that_are_not_ints(bad):
    with pytest.raises(TypeError, match="chosen_index must be an int"):
        grade_choice(_first("choice"), bad)


def test_each_grader_refuses_the_other_kind():
    with pytest.raises(ValueError, match="grade_short"):
        grade_choice(_first("short"), 0)
    with pytest.raises(ValueError, match="grade_choice"):
        grade_short(_first("choice"), "an answer")
    with pytest.raises(TypeError, match="text must be a str"):
        grade_short(_first("short"), None)


def test_grade_short_shows_both_answers_and_scores_only_ticks_in_english():
    q = _get("ex_weight-01")  # key points: shape, mask, position, zero
    answer = "Keep the SHAPE and apply a Boolean-Mask."
    unmarked = grade_short(q, answer)
    assert unmarked.hits == () and unmarked.misses == ("shape", "mask", "position", "zero")
    assert not unmarked.marked and not unmarked.correct and unmarked.score == 0.0
    assert q.model_answer in unmarked.feedback and unmarked.model_answer == q.model_answer
    assert f"Your answer: {answer}" in unmarked.feedback
    assert "  [ ] shape\n" in unmarked.feedback and unmarked.feedback.endswith("  [ ] zero")
    assert "Correct" not in unmarked.feedback and "Incorrect" not in unmarked.feedback
    ticked = grade_short(q, answer, ticked=[0, "mask"])
    assert ticked.marked and ticked.hits == ("shape", "mask") and ticked.score == 0.5
    assert ticked.correct is (0.5 >= PASS_MARK)
    assert "Not ticked: position, zero" in ticked.feedback
    assert grade_short(q, "", ticked=[0, 1, 2, 3]).score == 1.0  # the learner is the judge
    with pytest.raises(ValueError, match="ticked"):
        grade_short(q, answer, ticked=[4])


def test_grade_short_in_chinese_shows_both_answers_and_an_unlabelled_checklist():
    q = _get("ex_weight-01", "zh")  # key points: 形状, 掩码, 位置, 零
    answer = "要保持形状不变，用一个布尔掩码。"
    result = grade_short(q, answer)
    assert result.hits == () and result.misses == ("形状", "掩码", "位置", "零")
    assert f"你的回答：{answer}" in result.feedback and result.feedback.endswith("  [ ] 零")
    assert "未勾选：位置、零" in grade_short(q, "", ticked=[0, 1]).feedback


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_blank_short_answer_scores_zero(lang):
    result = grade_short(_first("short", lang), "   ")
    assert not result.correct and result.score == 0.0 and result.hits == ()


def test_score_sums_results_per_topic():
    results = [
        Result("what-01", "what", True, 1.0, ""),
        Result("what-02", "what", False, 0.5, ""),
        Result("methods-01", "methods", True, 1.0, ""),
    ]
    summary = score(results)
    assert (summary.answered, summary.correct, summary.points) == (3, 2, 2.5)
    assert summary.by_topic == (("what", 1, 2), ("methods", 1, 1))
    assert summary.fraction == pytest.approx(2 / 3)
    assert "2 of 3 correct" in str(summary) and "答对 2 / 3 题" in summary.text("zh")
    assert score([]).fraction == 0.0
    assert "extra: 1/1" in score([Result("extra-01", "extra", True, 1.0, "")]).text()


# --- sessions -------------------------------------------------------------------------------


def test_mock_interview_is_deterministic_by_seed():
    first = [q.id for q in mock_interview(10, seed=7)]
    assert first == [q.id for q in mock_interview(10, seed=7)]
    assert first == [q.id for q in mock_interview(10, seed=7, lang="zh")]
    assert len(set(first)) == 10
    others = {tuple(q.id for q in mock_interview(10, seed=s)) for s in range(5)}
    assert len(others) > 1


def test_mock_interview_respects_topics():
    chosen = ["methods", "ex_weight"]
    drawn = mock_interview(8, seed=1, topics=chosen, lang="zh")
    assert {q.topic for q in drawn} <= set(chosen) and all(q.lang == "zh" for q in drawn)
    assert {q.topic for q in mock_interview(4, seed=0, topics="steps")} == {"steps"}


def test_mock_interview_rejects_bad_arguments():
    size = len(load_bank())
    for n in (0, size + 1):
        with pytest.raises(ValueError, match=f"n must be between 1 and {size}"):
            mock_interview(n, seed=0)
    with pytest.raises(TypeError, match="n must be an int"):
        mock_interview(2.5, seed=0)
    with pytest.raises(ValueError, match="topics must be"):
        mock_interview(3, seed=0, topics=["pruning"])
    with pytest.raises(ValueError, match="lang"):
        mock_interview(3, seed=0, lang="de")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_flash_cards_pair_each_question_with_its_answer(lang):
    cards = flash_cards(lang)
    assert len(cards) == len(load_bank(lang)) and all(front and back for front, back in cards)
    q = _first("choice", lang)
    front, back = cards[load_bank(lang).index(q)]
    assert q.text in front and q.options[-1] in front and q.model_answer in back
    assert len(flash_cards(lang, topic="ex_structural")) == sum(
        q.topic == "ex_structural" for q in load_bank(lang)
    )


@pytest.mark.parametrize("kind", ["choice", "short"])
def test_plain_text_shows_the_answer_only_when_revealed(kind):
    q = _first(kind, "zh")
    hidden, shown = plain_text(q), plain_text(q, reveal=True)
    assert q.id in hidden and q.text in hidden and shown.startswith(hidden)
    revealed = shown[len(hidden) :]
    assert "答案" in revealed and q.model_answer in revealed and q.explanation in revealed
    assert "答案" not in hidden
    assert (q.model_answer if kind == "short" else q.explanation) not in hidden


def test_print_quiz_prints_the_drawn_questions(capsys):
    print_quiz("en", "mock", n=3, seed=2)
    out = capsys.readouterr().out
    drawn = mock_interview(3, seed=2)
    assert all(q.text in out for q in drawn) and "Question 3 of 3" in out
    assert not any(q.explanation and q.explanation in out for q in drawn)
    print_quiz("zh", "flashcards", topics="what")
    out = capsys.readouterr().out
    assert all(q.model_answer in out for q in load_bank("zh") if q.topic == "what")
    with pytest.raises(ValueError, match="mode must be one of"):
        print_quiz(mode="exam")


# --- the widget -----------------------------------------------------------------------------


def _answer(widget, right: bool = True) -> None:
    q = widget.current
    if q.kind == "choice":
        widget.choices.value = q.answer if right else (q.answer + 1) % len(q.options)
    else:
        widget.answer_box.value = q.model_answer if right else "no idea"


def _tick_all(widget) -> None:
    """A learner who judges their short answer complete ticks every box of the checklist."""
    for box in widget.checklist.children:
        box.value = True


def test_widget_reveal_and_next_change_the_text():
    w = quiz_widget(mode="quiz", topics="what")
    first = w.current
    assert first.id == "what-01" and first.text in w.question.value and w.feedback.value == ""
    _answer(w)
    w.reveal_button.click()
    assert "ticked 0 of 4 key points" in w.feedback.value
    assert not w.results["what-01"].marked and not w.results["what-01"].correct
    assert len(w.checklist.children) == 4
    _tick_all(w)
    assert "ticked 4 of 4 key points" in w.feedback.value and w.results["what-01"].correct
    assert w.reveal_button.disabled and w.answer_box.disabled
    w.next_button.click()
    assert w.current.id == "what-02" and w.current.text in w.question.value
    assert w.feedback.value == "" and w.answer_box.value == ""


def test_widget_asks_for_a_choice_before_revealing():
    w = quiz_widget(mode="quiz", topics="what")
    w.next_button.click()  # what-02 is multiple choice
    w.reveal_button.click()
    assert "Pick an option first" in w.feedback.value and not w.results
    _answer(w, right=False)
    w.reveal_button.click()
    assert "Not quite" in w.feedback.value and not w.results["what-02"].correct


def test_language_toggle_switches_all_text():
    w = quiz_widget(lang="en", mode="quiz", topics="what")
    w.next_button.click()
    _answer(w)
    w.reveal_button.click()
    english = (w.question.value, w.feedback.value, w.reveal_button.description, w.progress.value)
    w.language.value = "zh"
    chinese = (w.question.value, w.feedback.value, w.reveal_button.description, w.progress.value)
    assert all(a != b for a, b in zip(english, chinese, strict=True))
    assert _get("what-02", "zh").text in w.question.value and CJK.search(w.feedback.value)
    assert w.choices.value == w.current.answer  # the learner's choice survives the switch
    assert w.choices.options[0][0].startswith("A. " + w.current.options[0][:5])


def test_mock_widget_ends_with_the_score():
    w = quiz_widget(mode="mock", n=3, seed=5)
    assert w.ids == [q.id for q in mock_interview(3, seed=5)]
    for right in (True, False, True):
        _answer(w, right)
        w.reveal_button.click()
        if right:
            _tick_all(w)
        w.next_button.click()
    assert w.current is None and w.next_button.disabled
    assert "2 of 3 correct" in w.question.value and "2 of 3 correct" in w.text()
    assert "Points: 1 for each multiple-choice answer" in w.question.value
    assert w.restart_button.layout.display is None  # shown
    assert w.reveal_button.layout.display == "none" and w.next_button.layout.display == "none"
    w.restart_button.click()
    assert w.current.id == w.ids[0] and not w.results and w.restart_button.layout.display == "none"


def test_flashcards_widget_reveals_the_back_without_inputs():
    w = quiz_widget(lang="zh", mode="flashcards", topics="ex_weight")
    assert w.choices.layout.display == "none" and w.answer_box.layout.display == "none"
    w.reveal_button.click()
    assert "答案" in w.feedback.value and not w.results


def test_widget_text_is_a_plain_fallback():
    w = quiz_widget(mode="quiz", topics="steps")
    bundle = w._repr_mimebundle_()
    assert bundle["text/plain"] == plain_text(w.current)
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_widget_rejects_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        quiz_widget(mode="exam")
    with pytest.raises(ValueError, match="lang"):
        quiz_widget(lang="fr")


# --- glossary -------------------------------------------------------------------------------


def test_glossary_is_bilingual_and_complete():
    rows = terms()
    assert len(rows) >= 25
    assert len({t.en for t in rows}) == len(rows) and len({t.zh for t in rows}) == len(rows)
    for t in rows:
        assert t.en and t.en_definition.endswith(".") and not CJK.search(t.en_definition)
        assert CJK.search(t.zh) and CJK.search(t.zh_definition) and t.zh_definition.endswith("。")
    pairs = {(t.en, t.zh) for t in rows}
    for en, zh in [("weight pruning", "权重剪枝"), ("structured pruning", "结构化剪枝")]:
        assert any(en in e and zh in z for e, z in pairs), en
    assert ("fine-tuning", "微调") in pairs


def test_glossary_rows_put_the_readers_language_first():
    assert glossary()[0] == ("pruning", "剪枝", terms()[0].en_definition, terms()[0].zh_definition)
    assert glossary("en")[0] == ("pruning", "剪枝", terms()[0].en_definition)
    assert glossary("zh")[0] == ("剪枝", "pruning", terms()[0].zh_definition)
    with pytest.raises(ValueError, match="lang must be None or one of"):
        glossary("fr")


def test_glossary_table_renders_html_and_text():
    table = glossary_table()
    page = table._repr_html_()
    assert page.startswith("<table>") and page.count("<tr>") == len(terms()) + 1
    assert "<th style='text-align:left'>定义</th>" in page
    text = str(glossary_table("zh"))
    assert "微调 · fine-tuning" in text and terms()[3].zh_definition in text
