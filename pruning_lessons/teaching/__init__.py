"""The course's teaching machinery, built on the library below it.

* ``exercises``: the checked exercises of every lesson (``ex.check(fn)``, hints, solutions).
* ``explorers``: the slider explorers, one module per lesson or theme.
* ``quiz``, ``glossary``: the bilingual interview review.
* ``grading``: ``python -m pruning_lessons grade``, the class grader.
* ``narrate``, ``studies``, ``plots``: sentences from measured numbers, saved studies, plots.
"""
