"""Importing the packages is cheap: torch and transformers load on first use only."""

from __future__ import annotations

import subprocess
import sys

import pytest


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


#: What the core must never import: the adapters, the demo and the LLM frameworks (any
#: ``langchain*`` package covers langchain_core, langchain_classic and langchain_lingua).
OUTSIDE_THE_CORE = ("langchain", "llama_index", "llamaindex_lingua", "lingua_demo")


def _outside(name: str) -> bool:
    top = name.split(".")[0]
    return any(top == m or top.startswith(f"{m}_") for m in OUTSIDE_THE_CORE)


def test_every_core_module_imports_without_an_adapter_or_framework():
    """Importing each lingua_core module (the CLI included) loads no adapter and no framework."""
    code = (
        "import importlib, pkgutil, sys, lingua_core\n"
        "names = [m.name for m in pkgutil.walk_packages(lingua_core.__path__, 'lingua_core.')]\n"
        "for n in names: importlib.import_module(n)\n"
        "print(len(names)); print(' '.join(sorted(sys.modules)))\n"
        "from lingua_core import cli; cli._build_parser()\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    count, modules, with_plugins = out.stdout.strip().split("\n")
    assert int(count) >= 30  # every module was walked, not an empty package
    bad = sorted(m for m in modules.split() if _outside(m))
    assert bad == [], f"the core imported {bad}"
    # the command line finds the demo's subcommand through its entry point; that loads the
    # demo's registrar, still no framework
    plugins = sorted(m for m in with_plugins.split() if _outside(m))
    assert "lingua_demo.cli" in plugins
    assert all(m.split(".")[0] == "lingua_demo" for m in plugins), plugins


def test_no_core_source_names_an_adapter_or_framework_in_an_import():
    """Not even inside a function: every import statement of the core is read from the source."""
    import ast
    from pathlib import Path

    import lingua_core

    root = Path(lingua_core.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            elif (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names = [str(node.args[0].value)]
            found += [f"{path.relative_to(root)}: {n}" for n in names if _outside(n)]
    assert len(list(root.rglob("*.py"))) >= 30
    assert found == [], found


def test_no_source_file_is_over_450_lines():
    """Modules stay small enough to read: the packages' files are at most 450 lines each."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    folders = ("core", "langchain_lingua", "llamaindex_lingua", "lingua_demo")
    sizes = {
        str(p.relative_to(root)): len(p.read_text(encoding="utf-8").splitlines())
        for folder in folders
        for p in (root / folder).rglob("*.py")
    }
    assert len(sizes) >= 40
    assert {p: n for p, n in sizes.items() if n > 450} == {}


@pytest.mark.parametrize(
    ("module", "framework", "extra"),
    [
        ("langchain_lingua.compressor", "langchain_core", "langchain"),
        ("langchain_lingua.models", "langchain_core", "langchain"),
        ("langchain_lingua.transformer", "langchain_core", "langchain"),
        ("llamaindex_lingua.postprocessor", "llama_index", "llamaindex"),
        ("llamaindex_lingua.models", "llama_index", "llamaindex"),
        ("lingua_core.serve.app", "fastapi", "serve"),
    ],
)
def test_a_missing_framework_names_its_pip_extra(module, framework, extra):
    """Without its framework, a module fails at import with the ``pip install`` that fixes it."""
    code = (
        "import importlib, sys\n"
        f"sys.modules[{framework!r}] = None  # as if not installed\n"
        "try:\n"
        f"    importlib.import_module({module!r})\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert f"pip install 'lingua-rag[{extra}]'" in out.stdout, out.stdout + out.stderr
