"""Short answers are self-assessed: no answer is ever called right by keyword overlap (issue #14).

The learner ticks the key points they made. Issue #23 found that a "mentioned / not yet
mentioned" aid misled on reversed claims, keyword lists, synonyms and Chinese, so there are no
such labels: the learner's answer is shown beside the model answer with the key points as an
unticked checklist. None of the adversarial answers below is ever reported correct or labelled.
"""

from __future__ import annotations

import pytest

from pruning_lessons.teaching.quiz import grade_short, load_bank, quiz_widget

# (question id, language, answer, the most key points it really states)
ADVERSARIAL = [
    # the six answers from issue #14
    (
        "structured_vs_weight-04",
        "en",
        "Structured pruning keeps more accuracy, because it removes whole filters, and it is "
        "faster on hardware.",
        0,
    ),
    (
        "structured_vs_weight-01",
        "en",
        "Structured pruning removes individual weights anywhere and keeps the dense shape; "
        "weight pruning removes whole channels, filters and neurons, so it is faster on "
        "hardware.",
        0,
    ),
    (
        "steps-04",
        "en",
        "One-shot is always best; iterative and gradual schedules are useless, no need for equal "
        "budget or seeds.",
        0,
    ),
    (
        "challenges-01",
        "en",
        "There are no real challenges: cost and seeds and per-layer choices never matter.",
        0,
    ),
    ("ex_weight-01", "zh", "直接删掉就行，不用管形状，也不用置零。", 0),
    # negations and contradictions
    (
        "what-01",
        "en",
        "Pruning does not need fine-tuning, and it never makes a model smaller or faster.",
        0,
    ),
    (
        "what-07",
        "en",
        "It is not because the network is redundant or over-parameterised; fine-tuning is not "
        "needed either.",
        0,
    ),
    ("ex_weight-06", "en", "Momentum has nothing to do with it, and no mask is needed.", 0),
    ("ex_weight-06", "zh", "和动量没有关系，也不需要掩码。", 0),
    (
        "methods-06",
        "en",
        "A random baseline is pointless: there is no need for the same sparsity or fine-tuning.",
        0,
    ),
    (
        "where_used-04",
        "en",
        "Don't measure anything and don't fine-tune; structured pruning is never used on phones.",
        0,
    ),
    ("challenges-03", "zh", "不用做敏感度分析，也不用逐层，直接全局剪就行，没有必要搜索。", 1),
    (
        "ex_structural-01",
        "en",
        "Nothing has to change: the rows, the columns and the bias can stay without slicing.",
        0,
    ),
    (
        "structured_vs_weight-04",
        "zh",
        "结构化剪枝精度更高，因为它删掉整个滤波器，而且在硬件上更快。",
        0,
    ),
    (
        "structured_vs_weight-01",
        "zh",
        "结构化剪枝删除单个权重，保持形状；权重剪枝删除整个通道和滤波器，所以更快。",
        0,
    ),
    ("steps-04", "zh", "一次性剪枝总是最好，迭代和渐进都没用，不需要相同预算或随机种子。", 0),
    # keyword lists
    ("methods-01", "en", "magnitude, filter, redundancy, gradient", 0),
    ("what-04", "en", "non-zero; accuracy; file; latency", 0),
    ("ex_weight-01", "zh", "形状、掩码、位置、零", 0),
    ("challenges-01", "en", "cost / seed / generalisation / sensitivity", 0),
    ("steps-01", "en", "mask and fine-tune and evaluate and iterative", 0),
    # the question copied back
    (
        "ex_structural-04",
        "en",
        "After channel pruning you get 'running_mean should contain 57 elements not 64'.",
        0,
    ),
    (
        "challenges-06",
        "en",
        "Why is computational cost a challenge for pruning, when the goal is a cheaper model?",
        0,
    ),
    (
        "ex_weight-04",
        "en",
        "Global versus per-layer magnitude pruning: what is the difference, and what can go "
        "wrong with each?",
        0,
    ),
    ("methods-05", "zh", "运动剪枝与幅值剪枝有什么不同，什么时候有用？", 0),
    # empty or blank
    ("what-01", "en", "", 0),
    ("what-01", "zh", "   \n ", 0),
    # the wrong language for the mode
    (
        "ex_weight-06",
        "zh",
        "The optimizer moves pruned weights through momentum; apply the mask after every step.",
        0,
    ),
    ("ex_weight-06", "en", "优化器的动量会让被剪的权重长回来，每次更新后重新应用掩码。", 0),
    (
        "steps-01",
        "zh",
        "Compute a mask from a criterion, fine-tune, evaluate, and repeat iteratively.",
        0,
    ),
    # substrings of other words must not count
    (
        "structured_vs_weight-01",
        "en",
        "Unstructuredness aside, individualism and reshaping are all that matter here.",
        1,
    ),
]


def _get(qid: str, lang: str):
    return next(q for q in load_bank(lang) if q.id == qid)


def test_there_are_at_least_26_adversarial_answers():
    assert len(ADVERSARIAL) >= 26
    assert len({(qid, lang, text) for qid, lang, text, _ in ADVERSARIAL}) == len(ADVERSARIAL)


@pytest.mark.parametrize(("qid", "lang", "text", "most"), ADVERSARIAL)
def test_an_adversarial_answer_is_never_reported_correct(qid, lang, text, most):
    question = _get(qid, lang)
    result = grade_short(question, text)
    assert not result.correct and not result.marked and result.score == 0.0
    assert result.hits == () and len(result.misses) == len(question.key_points)
    for word in ("Correct", "Incorrect", "回答正确", "回答错误", "mentioned", "提到"):
        assert word not in result.feedback
    assert text.strip() in result.feedback and question.model_answer in result.feedback


def test_a_right_answer_in_few_words_is_not_called_incorrect():
    """what-07 was marked "Incorrect, 1/3" by the old keyword grader."""
    q = _get("what-07", "en")
    result = grade_short(q, "Because the network is over-parameterised and redundant.")
    assert result.hits == () and not result.marked
    assert "Incorrect" not in result.feedback and "Not quite" not in result.feedback
    assert grade_short(q, "Because it is over-parameterised.", ticked=[0, 1]).correct


def test_language_switch_keeps_choice_text_and_ticks():
    w = quiz_widget(lang="en", mode="quiz", topics="what")
    w.answer_box.value = "Prune the least important weights, then fine-tune."
    w.reveal_button.click()
    w.checklist.children[0].value = True
    w.checklist.children[1].value = True
    assert w.results["what-01"].score == 0.5
    w.language.value = "zh"
    assert w.results["what-01"].score == 0.5 and "勾选了 4 个要点中的 2 个" in w.feedback.value
    assert [box.value for box in w.checklist.children] == [True, True, False, False]
    assert w.checklist.children[0].description == "贡献最小"  # a key point, with no label
    w.language.value = "en"
    w.next_button.click()  # what-02: multiple choice
    w.choices.value = w.current.answer
    w.reveal_button.click()
    w.language.value = "zh"
    assert w.results["what-02"].correct and "回答正确" in w.feedback.value


def test_a_result_prints_as_readable_text():
    q = _get("what-02", "en")
    from pruning_lessons.teaching.quiz import grade_choice

    text = str(grade_choice(q, q.answer))
    assert text.startswith("[what-02] Correct.\n") and "Result(" not in text
