"""Importing the packages is cheap: torch and transformers load on first use only."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_packages_does_not_import_torch():
    code = (
        "import sys, lingua_core, langchain_lingua, llamaindex_lingua\n"
        "from lingua_core import get_compressor\n"
        "c = get_compressor('selective_context')\n"
        "heavy = [m for m in ('torch', 'transformers', 'tiktoken', 'langchain_core',"
        " 'llama_index.core') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "", f"imported at import time: {out.stdout.strip()}"


def test_no_network_and_no_side_effects_at_import():
    code = (
        "import logging, socket\n"
        "def refuse(*a, **k): raise RuntimeError('network at import')\n"
        "socket.socket.connect = refuse\n"
        "before = list(logging.getLogger().handlers)\n"
        "import lingua_core, lingua_core.cli\n"
        "assert logging.getLogger().handlers == before\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "ok"
