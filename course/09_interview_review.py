# %% [markdown]
# # 09 · Interview review / 面试复习
#
# Everything the course taught, as an interviewer would ask it. The question bank covers the
# six lessons, the two coding exercises and lesson 10 (pruning language models), in
# **English and Chinese** (中文): every question exists in both languages with the same id
# and the same answer, and the language switch in the quiz changes all of its text.
#
# Three ways to practise:
#
# * **quiz**: every question of the topics you pick, graded as you go;
# * **flash cards**: the question on the front, the answer on the back;
# * **mock interview**: a random set (the same seed gives the same set), each answer revealed
#   once you have given yours, and a score at the end.
#
# Multiple-choice answers are graded exactly. Short answers are graded by the key points they
# cover: say the important words, the way you would in a real interview.

# %%
from collections import Counter

import pruning_lessons as pl
from pruning_lessons import quiz

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
# Pick an answer (or type one), press **Reveal**, then **Next**. The toggle at the top
# switches between English and 中文 at any time.

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
# Grading is done by plain functions, so you can also quiz yourself in code:

# %%
question = next(q for q in english if q.kind == "choice")
print(quiz.plain_text(question))
print(quiz.grade_choice(question, question.answer))

short = next(q for q in english if q.kind == "short")
print()
print(quiz.plain_text(short))
result = quiz.grade_short(short, "Prune the smallest weights, then fine-tune to recover.")
print(result)

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
