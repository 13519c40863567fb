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
        "heavy = [m for m in ('torch', 'transformers', 'tiktoken', 'langchain_core', 'langchain',"
        " 'langgraph', 'llama_index.core') if m in sys.modules]\n"
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
        ("langchain_lingua.retriever", "langchain_core", "langchain"),
        ("langchain_lingua.middleware", "langchain", "langchain"),
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


#: The applications of the core: they may import every layer; no layer imports them.
APPLICATIONS = ("serve", "corpus", "train", "eval")
#: Who may import an application anyway: the command line runs them; a ``server_url`` makes the
#: adapters' settings build a RemoteCompressor.
MAY_IMPORT_APPLICATIONS = {"cli.py": APPLICATIONS, "frameworks/settings.py": ("serve",)}


def test_the_core_root_is_small_and_no_layer_imports_an_application():
    import ast
    from pathlib import Path

    import lingua_core

    root = Path(lingua_core.__file__).parent
    modules = sorted(p.name for p in root.glob("*.py") if p.name != "__init__.py")
    assert 5 <= len(modules) <= 10, modules
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in APPLICATIONS or rel.as_posix() == "__init__.py":
            continue
        allowed = MAY_IMPORT_APPLICATIONS.get(rel.as_posix(), ())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                parts = [*node.module.split("."), ""]
                if (
                    parts[0] == "lingua_core"
                    and parts[1] in APPLICATIONS
                    and parts[1] not in allowed
                ):
                    found.append(f"{rel}: {node.module}")
    assert found == [], found


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("lingua_core.text", "lingua_core.pipeline.text"),
        ("lingua_core.rank", "lingua_core.scorers.rank"),
        ("lingua_core.models.rows", "lingua_core.stored.rows"),
        ("lingua_core.adapters", "lingua_core.frameworks.settings"),
    ],
)
def test_an_old_module_path_still_imports_with_a_deprecation_warning(old, new):
    """Paths moved by the regrouping are the new module itself, for one release."""
    code = (
        "import importlib, warnings\n"
        "warnings.simplefilter('error')\n"
        f"new = importlib.import_module({new!r})\n"
        "try:\n"
        f"    importlib.import_module({old!r})\n"
        "except DeprecationWarning as e:\n"
        "    print(e)\n"
        "warnings.simplefilter('ignore')\n"
        f"print(importlib.import_module({old!r}) is new)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    warned, same = out.stdout.strip().split("\n")
    assert warned == f"{old} moved to {new}; the old path goes in the next release"
    assert same == "True"


def test_every_old_module_path_names_an_existing_module():
    import importlib.util

    from lingua_core._moved import MOVED

    for old, new in MOVED.items():
        assert importlib.util.find_spec(new) is not None, new
        assert old.startswith("lingua_core.") and old != new


def test_importing_an_old_path_leaves_the_module_its_own_name():
    code = (
        "import importlib, warnings\n"
        "warnings.simplefilter('ignore')\n"
        "import lingua_core.pipeline.text as new\n"
        "import lingua_core.text\n"
        "importlib.reload(new)\n"
        "print(new.__spec__.name, new.__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["lingua_core.pipeline.text"] * 2
