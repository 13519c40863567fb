"""The pipeline every method shares: segmenting, counting tokens, selecting, assembling.

Read in this order: :mod:`~lingua_core.pipeline.contract` (what a method receives and returns),
:mod:`~lingua_core.pipeline.text` (units: words, phrases, sentences; assembling the kept ones),
:mod:`~lingua_core.pipeline.tokens` (the token counter the budget is counted in),
:mod:`~lingua_core.pipeline.select` (choosing units under a budget),
:mod:`~lingua_core.pipeline.passages` (titles, bridge names and long sentences of passages, for the
question-aware methods), :mod:`~lingua_core.pipeline.languages` (scripts written without spaces),
:mod:`~lingua_core.pipeline.cancel` (deadlines of a call) and
:mod:`~lingua_core.pipeline.recover` (an LLM answer mapped back to the original wording).
"""
