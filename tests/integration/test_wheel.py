"""The built wheel holds every package and its data, and works installed outside the source tree.

A package left off ``pyproject.toml``'s list passes every other test (they import the editable
install, which maps ``core/``) and is missing from what ``pip install lingua-rag`` installs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
#: Source folder -> import name of each distributed top-level package.
PACKAGES = {
    "core": "lingua_core",
    "langchain_lingua": "langchain_lingua",
    "llamaindex_lingua": "llamaindex_lingua",
    "lingua_demo": "lingua_demo",
}


def _source_packages() -> set[str]:
    out = set()
    for folder, name in PACKAGES.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            out.add(".".join([name, *rel.parts]))
    return out


def _source_modules() -> set[str]:
    out = set()
    for folder, name in PACKAGES.items():
        for py in (ROOT / folder).rglob("*.py"):
            rel = py.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out.add(".".join([name, *parts]))
    return out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # A copy without build outputs: setuptools reuses build/lib, where a package dropped from
    # the list would survive from an earlier build.
    src = tmp_path_factory.mktemp("src") / "lingua-rag"
    skip = shutil.ignore_patterns(".*", "build", "site", "*.egg-info", "__pycache__", "notebooks")
    shutil.copytree(ROOT, src, ignore=skip)
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*pip, "--wheel-dir", str(out), str(src)], check=True, capture_output=True, timeout=600
    )
    [whl] = out.glob("lingua_rag-*.whl")
    return whl


def test_the_wheel_holds_every_package_and_its_data(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    packaged = {
        n[: -len("/__init__.py")].replace("/", ".") for n in names if n.endswith("/__init__.py")
    }
    assert _source_packages() - packaged == set(), "packages missing from pyproject.toml"
    modules = {
        n[:-3].replace("/", ".").removesuffix(".__init__") for n in names if n.endswith(".py")
    }
    assert _source_modules() - modules == set()
    for data in (
        "lingua_core/py.typed",
        "lingua_core/eval/studies/",
        "lingua_demo/data/nq_corpus.minilm.npy",
        "lingua_demo/data/nq_corpus.minilm.json",
    ):
        assert any(n.startswith(data) for n in names), data
    assets = [n for n in names if n.startswith("lingua_core/assets/")]
    assert any(n.endswith("/model.safetensors") for n in assets), assets
    assert any(n.endswith("/lingua_pruner.json") for n in assets), assets


def test_the_installed_wheel_imports_every_module_and_runs_the_cli(wheel, tmp_path):
    # A venv over the test environment's packages (no second torch), the wheel installed alone.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The test environment's site-packages as a plain path: its .pth files (the editable install
    # of this tree among them) are not processed, so lingua_core can only come from the wheel.
    (Path(site) / "test_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    script = (
        "import importlib, json, sys\n"
        "import lingua_core\n"
        "names = json.loads(sys.argv[1])\n"
        "for n in sorted(names):\n"
        "    importlib.import_module(n)\n"
        "print(lingua_core.__file__)\n"
    )
    import json

    done = subprocess.run(
        [str(py), "-c", script, json.dumps(sorted(_source_modules()))],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().startswith(site), done.stdout
    cli = subprocess.run(
        [str(venv / "bin" / "lingua"), "--help"], capture_output=True, text=True, timeout=300
    )
    assert cli.returncode == 0 and "usage: lingua" in cli.stdout, cli.stderr[-2000:]
