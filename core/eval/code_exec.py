"""Run generated code against its tests: a subprocess, a temporary folder, a time limit, no network.

Used by the ``code`` task type (HumanEval): the reader's function and the problem's ``check``
tests run in a fresh isolated interpreter (``python -I``) whose sockets are disabled, in an empty
temporary working folder, killed after ``timeout`` seconds. This contains honest mistakes of a
model (infinite loops, stray files, network calls); it is not a sandbox against hostile code.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

#: Prepended to every program: no network from generated code.
_NO_NETWORK = """\
import socket as _socket


def _no_network(*args, **kwargs):
    raise OSError("network access is disabled while tests run")


_socket.socket = _no_network
_socket.create_connection = _no_network
_socket.getaddrinfo = _no_network
"""

_FENCE = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.DOTALL)


def extract_code(reply: str) -> str:
    """The code of a reply: its first fenced block, else the whole reply."""
    m = _FENCE.search(reply)
    return m.group(1) if m else reply


def passes(program: str, test: str, entry_point: str, *, timeout: float = 10.0) -> bool:
    """Whether ``program`` passes HumanEval-style ``test`` (a ``check(candidate)`` function).

    Args:
        program: Code that defines ``entry_point``.
        test: The problem's tests, defining ``check``.
        entry_point: The function under test.
        timeout: Seconds before the run is killed (a failure).
    """
    source = f"{_NO_NETWORK}\n{program}\n\n{test}\n\ncheck({entry_point})\n"
    with tempfile.TemporaryDirectory(prefix="lingua-code-") as tmp:
        path = Path(tmp) / "candidate.py"
        path.write_text(source, encoding="utf-8")
        try:
            done = subprocess.run(
                [sys.executable, "-I", str(path)],
                cwd=tmp,
                capture_output=True,
                timeout=timeout,
                env={"PATH": "", "PYTHONDONTWRITEBYTECODE": "1"},
                check=False,
            )
        except subprocess.TimeoutExpired:
            return False
    return done.returncode == 0
