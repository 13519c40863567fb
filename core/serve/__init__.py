"""Serving: the HTTP service (``lingua serve``) and its client, :class:`RemoteCompressor`.

:mod:`~lingua_core.serve.app` holds the FastAPI app (``pip install 'lingua-rag[serve]'``),
:mod:`~lingua_core.serve.remote` the client with the core compressor's interface.
"""

from __future__ import annotations

from lingua_core.serve.remote import RemoteCompressor, RemoteError

__all__ = ["RemoteCompressor", "RemoteError"]
