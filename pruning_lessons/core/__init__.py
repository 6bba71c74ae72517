"""What every axis uses: the digits data, the small models, training, metrics and the device.

Nothing here knows about pruning; ``weights``, ``structured`` and ``llm`` build on it.
The modules are imported by name (``pruning_lessons.core.train``); this file imports nothing,
so that the command line can read ``core.checks`` before torch loads.
"""
