# %% [markdown]
# # 09 · Interview review / 面试复习

# %% [markdown]
# <!-- bilingual-box -->
# > **The question** · **问题**
# >
# > **EN** Can you answer every pruning question of this course, in English and in Chinese?
# >
# > **中文** 你能用中英文回答这门课里所有关于剪枝的问题吗？
# >
# > **Three takeaways** · **三个要点**
# >
# > 1. Answer each mock-interview question out loud before you reveal the model answer.
# >    <br>模拟面试时，先大声说出答案，再查看参考答案。
# > 2. Short answers are graded on the key points an interviewer listens for.
# >    <br>简答题按面试官关注的要点评分。
# > 3. Use the glossary for the standard terms in both languages: 剪枝, 稀疏度, 微调, 掩码, 算子.
# >    <br>用术语表掌握中英文标准术语：剪枝（pruning）、稀疏度（sparsity）、微调（fine-tuning）、掩码（mask）、算子（kernel）。

# %% [markdown]
# Everything the course taught, as an interviewer would ask it. The question bank covers the
# six lessons, the two coding exercises and lesson 10 (pruning language models), in
# **English and Chinese** (中文): every question exists in both languages with the same id
# and the same answer, and the language switch in the quiz changes all of its text.
#
# Three ways to practise:
#
# * **quiz**: every question of the topics you pick, one after the other;
# * **flash cards**: the question on the front, the answer on the back;
# * **mock interview**: a random set (the same seed gives the same set), each answer revealed
#   once you have given yours, and a score at the end.
#
# Multiple-choice answers are graded exactly. Short answers are **marked by you**: write your
# answer first, then read it beside the model answer and tick the key points you really made,
# in the same words or in others. No word count can tell a right answer from one that uses the
# same words to say the opposite, or from a list of terms, and it misses a right answer in other
# words: so nothing here labels your answer; you are the judge, as in an interview you would
# be. A mock interview's score adds up your ticks.

# %%
from collections import Counter

import pruning_lessons as pl
from pruning_lessons.teaching import quiz

english, chinese = pl.load_bank("en"), pl.load_bank("zh")
per_topic = Counter(q.topic for q in english)
kinds = Counter(q.kind for q in english)
print(
    f"{len(english)} questions ({kinds['choice']} multiple choice, {kinds['short']} short answer)"
)
for topic in quiz.topics():
    titles = f"{quiz.topic_title(topic, 'en')} / {quiz.topic_title(topic, 'zh')}"
    print(f"  {per_topic[topic]:2d}  {titles}")
print("same ids in both languages:", [q.id for q in english] == [q.id for q in chinese])

# %% [markdown]
# ## Quiz
#
# Pick an answer (or type one), press **Reveal**, tick the key points you made, then **Next**.
# The toggle at the top switches between English and 中文 at any time; your answers and ticks
# stay.

# %% tags=["nbval-ignore-output"]
pl.quiz_widget(lang="en", mode="quiz")

# %% [markdown]
# ## Flash cards
#
# Only the topics of lessons 04 and 05 here; pass `topics=None` for all of them.

# %% tags=["nbval-ignore-output"]
pl.quiz_widget(lang="zh", mode="flashcards", topics=["methods", "steps"])

# %% [markdown]
# ## Mock interview
#
# Ten random questions. Change `seed` for another interview; the same seed gives the same
# questions in the same order, so a study group can sit the same one.

# %% tags=["nbval-ignore-output"]
pl.quiz_widget(lang="en", mode="mock", n=10, seed=7)

# %% [markdown]
# ## Without widgets
#
# Where widgets do not render (a plain terminal, a static notebook viewer), the same
# questions print as text. Here are the first two questions of a mock interview, the second
# with its answer revealed:

# %%
first, second = pl.mock_interview(2, seed=7)
print(quiz.plain_text(first))
print()
print(quiz.plain_text(second, reveal=True))

# %% [markdown]
# Grading is done by plain functions, so you can also quiz yourself in code. A short answer
# comes back with the model answer and its checklist; pass `ticked=` (the key points you made)
# to score it:

# %%
question = next(q for q in english if q.kind == "choice")
print(quiz.plain_text(question))
print(quiz.grade_choice(question, question.answer))

short = next(q for q in english if q.kind == "short")
print()
print(quiz.plain_text(short))
answer = "Prune the smallest weights, then fine-tune to recover."
print(quiz.grade_short(short, answer))
print()
print(quiz.grade_short(short, answer, ticked=["fine-tuning"]))

# %% [markdown]
# ## Glossary / 术语表
#
# The key terms in both languages, with a one-line definition each.

# %%
pl.glossary_table()

# %% [markdown]
# ## How to use this before an interview
#
# 1. Run a mock interview and answer out loud before you reveal each answer.
# 2. For every short answer you missed, reread the model answer and the lesson it comes from.
# 3. Redo the coding exercises (07, 08, and the Wanda mask in 10) without hints: being
#    able to write a mask and slice a layer on a whiteboard is what live coding rounds test.

# %% [markdown]
# <!-- model-answer -->
# ## 60-second answer · 60 秒回答
#
# **60-second answer** (as you would say it in an interview)
#
# > "I define pruning in one sentence, then the two granularities: weight (unstructured) pruning
# > keeps the most accuracy but does not speed up ordinary hardware; structured pruning really
# > shrinks and speeds up the network but costs more accuracy. Then the pipeline: train, prune,
# > fine-tune, evaluate, with one-shot, iterative and gradual schedules compared at an equal
# > budget. Then the methods, sorted by their evidence: magnitude, structure, redundancy,
# > gradients and second-order curvature, always against a random baseline. Last the challenges:
# > accuracy, cost, stability, generalisation and per-layer ratios; and for every number I quote,
# > which split and how many seeds it was measured on."
#
# **60 秒回答**（面试时可以这样说）
#
# > “我会先用一句话定义剪枝，再讲清楚两种粒度：权重剪枝（非结构化剪枝）准确率高但在普通硬件上不加速，结构化剪枝真正变小变快但损失更多准确率。然后讲流程：训练、剪枝、微调、评估，以及一次性、迭代式和渐进式方案要在相同预算下比较。讲方法时按依据分类：幅值、结构、冗余、梯度和二阶方法，并且总是和随机剪枝基线比较。最后讲挑战：准确率、成本、稳定性、泛化和每层比例的选择；凡是数字，都说明是在哪个数据集划分上、用几个随机种子测出来的。”
