"""Compression methods: one module or package per method, found through the registry.

Most methods implement step 2 of the shared pipeline (a score per unit,
:meth:`~lingua_core.base.Compressor._score`); those with a pipeline of their own override
:meth:`~lingua_core.base.Compressor._compress_texts`, which takes one
:class:`~lingua_core.pipeline.contract.Call`. The default is
:mod:`~lingua_core.methods.coarse_to_fine`; the learned pruners
:mod:`~lingua_core.methods.pruner`; LLMLingua and LongLLMLingua
:mod:`~lingua_core.methods.llmlingua`, LLMLingua-2 :mod:`~lingua_core.methods.llmlingua2`,
Selective Context :mod:`~lingua_core.methods.selective_context`; the filters RAG users already
have :mod:`~lingua_core.methods.embedding` and the controls :mod:`~lingua_core.methods.baselines`.
"""
