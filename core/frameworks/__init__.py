"""What the LangChain and LlamaIndex adapters share, with no framework imported here.

:mod:`~lingua_core.frameworks.settings` (the adapters' settings, their checks and the one call
both make), :mod:`~lingua_core.frameworks.documents` (results written back onto documents:
text, metadata, order) and :mod:`~lingua_core.frameworks.failures` (the ``on_error`` policy).
The adapters (``langchain_lingua``, ``llamaindex_lingua``) only convert their framework's
objects; the core never imports them.
"""
