"""Comparison studies: a TOML file of task instances and phases, checked before anything runs.

A study names task instances (a task type and a data file) and phases (algorithms, rates, tasks,
samples per condition and a reader); :func:`load_study` reads and checks it, :func:`dry_run`
counts what a phase would cost, and :func:`lingua_core.eval.runner.run_study` runs it. The
built-in study (``builtin``) holds the three phases of the usual comparison:
``phase1_quick_validation`` (LLMLingua-2 vs random), ``phase2_algorithm_pairs`` (LLMLingua-2 vs
LLMLingua) and ``phase3_full_comparison`` (every algorithm, the full sweep)::

    [tasks.nq]
    type = "qa_multidoc"
    data = "nq-open-oracle.jsonl.gz"     # relative to the study file (or --data-dir)

    [phases.quick]
    algorithms = ["random", "naive", "none"]   # "method" or "method:option=value,..."
    rates = [1.0, 0.5, 0.2]
    tasks = ["nq"]
    samples = 10                               # per (algorithm, rate, task) condition
    reader = "none"

Optional: ``[prices."provider:model"]`` with ``input`` and ``output`` dollars per million
tokens; per task, ``start`` (first example), ``samples`` (a cap on what any phase takes from
it) and the type's own keys (``k``, ``position``,
``chunk_words``, ``shots``, ``demos``); per phase, ``description``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from lingua_core.eval.data import QAExample
from lingua_core.eval.tasks import TASK_TYPES, TaskType, task_type

BUILTIN = "builtin"
_TOP = ("description", "tasks", "phases", "prices")
_TASK_KEYS = ("type", "data", "start", "samples")
_PHASE_KEYS = ("description", "algorithms", "rates", "tasks", "samples", "reader", "seeds")


@dataclass(frozen=True)
class TaskInstance:
    """A task type on one data file."""

    name: str
    type: TaskType
    data: Path
    start: int
    options: dict[str, Any]
    max_samples: int | None = None

    def samples(self, phase: Phase) -> int:
        """How many examples this task gives ``phase`` (the phase's count, capped by the task's)."""
        return phase.samples if self.max_samples is None else min(phase.samples, self.max_samples)

    def load(self, phase: Phase) -> list[QAExample]:
        """The examples this task gives ``phase``."""
        return self.type.load(self.data, self.start, self.samples(phase), self.options)


@dataclass(frozen=True)
class Phase:
    """Algorithms x rates x tasks, ``samples`` examples per condition, one reader."""

    name: str
    algorithms: tuple[str, ...]
    rates: tuple[float, ...]
    tasks: tuple[str, ...]
    samples: int
    reader: str
    seeds: int = 1
    description: str = ""


@dataclass(frozen=True)
class Study:
    """A checked study file."""

    source: str
    tasks: dict[str, TaskInstance]
    phases: dict[str, Phase]
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)
    description: str = ""

    def phase(self, name: str) -> Phase:
        """The phase called ``name``.

        Raises:
            ValueError: For an unknown phase (listing the phases).
        """
        if name not in self.phases:
            msg = f"no phase {name!r} in {self.source}; phases: {', '.join(self.phases)}"
            raise ValueError(msg)
        return self.phases[name]


def _toml(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    loaded: dict[str, Any] = tomllib.loads(text)
    return loaded


def _line(text: str, section: str, key: str | None = None) -> int:
    """The line of ``[section]`` (or of ``key`` inside it) in the study text; 0 if not found."""
    lines = text.splitlines()
    header = re.compile(
        r"^\s*\[\s*" + r"\s*\.\s*".join(map(re.escape, section.split("."))) + r"\s*\]"
    )
    for i, ln in enumerate(lines):
        if header.match(ln):
            if key is None:
                return i + 1
            for j in range(i + 1, len(lines)):
                if lines[j].lstrip().startswith("["):
                    break
                if re.match(rf"^\s*{re.escape(key)}\s*=", lines[j]):
                    return j + 1
            return i + 1
    return 0


class StudyError(ValueError):
    """A study file that cannot run, with the line at fault."""


def load_study(source: str | Path, *, data_dir: str | Path | None = None) -> Study:
    """Read and check a study file (``"builtin"`` for the built-in study).

    Args:
        source: A TOML file, or ``"builtin"``.
        data_dir: Folder of relative data paths (default: the study file's folder).

    Raises:
        StudyError: For an unknown key, task type, method, option or task, or a bad value;
            the message names the line and the valid choices.
    """
    if str(source) == BUILTIN:
        text = resources.files("lingua_core.eval").joinpath("studies/builtin.toml").read_text()
        name, base = BUILTIN, Path(data_dir) if data_dir else Path.cwd()
    else:
        path = Path(source)
        if not path.is_file():
            msg = f"study file not found: {path}"
            raise FileNotFoundError(msg)
        text, name = path.read_text(encoding="utf-8"), str(path)
        base = Path(data_dir) if data_dir else path.parent
    raw = _toml(text)

    def fail(section: str, key: str | None, what: str) -> StudyError:
        return StudyError(f"{name}, line {_line(text, section, key)}: {what}")

    for key in raw:
        if key not in _TOP:
            raise fail("", key, f"unknown key {key!r}; valid: {', '.join(_TOP)}")
    tasks: dict[str, TaskInstance] = {}
    for tname, spec in (raw.get("tasks") or {}).items():
        sec = f"tasks.{tname}"
        if not isinstance(spec, dict) or "type" not in spec or "data" not in spec:
            raise fail(sec, None, f"task {tname!r} needs 'type' and 'data'")
        if spec["type"] not in TASK_TYPES:
            raise fail(
                sec, "type", f"unknown task type {spec['type']!r}; valid: {', '.join(TASK_TYPES)}"
            )
        ttype = task_type(spec["type"])
        valid = (*_TASK_KEYS, *ttype.options)
        for key in spec:
            if key not in valid:
                raise fail(
                    sec,
                    key,
                    f"unknown key {key!r} for a {ttype.name} task; valid: {', '.join(valid)}",
                )
        opts = {k: spec.get(k, d) for k, d in ttype.options.items()}
        for k in ("demos",):
            if opts.get(k):
                opts[k] = str(base / str(opts[k]))
        data_path = base / str(spec["data"])
        if not data_path.is_file():
            hint = " (give --data-dir DIR, the folder that holds it)" if name == BUILTIN else ""
            raise fail(sec, "data", f"data file not found: {data_path}{hint}")
        cap = spec.get("samples")
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise fail(sec, "samples", f"samples must be an int >= 1, got {cap!r}")
        tasks[tname] = TaskInstance(
            tname, ttype, data_path, int(spec.get("start", ttype.start)), opts, cap
        )
    phases: dict[str, Phase] = {}
    for pname, spec in (raw.get("phases") or {}).items():
        phases[pname] = _phase(pname, spec, tasks, fail)
    if not phases:
        raise fail("", None, "a study needs at least one [phases.NAME] table")
    prices = {}
    for spec_name, p in (raw.get("prices") or {}).items():
        if not isinstance(p, dict) or set(p) != {"input", "output"}:
            raise fail(f'prices."{spec_name}"', None, "a price needs exactly 'input' and 'output'")
        prices[spec_name] = (float(p["input"]), float(p["output"]))
    return Study(name, tasks, phases, prices, str(raw.get("description", "")))


def _phase(name: str, spec: Any, tasks: dict[str, TaskInstance], fail: Any) -> Phase:
    from lingua_core.base import MODEL_OPTIONS
    from lingua_core.eval.sweep import parse_method
    from lingua_core.registry import method_class, resolve

    sec = f"phases.{name}"
    if not isinstance(spec, dict):
        raise fail(sec, None, f"phase {name!r} must be a table")
    for key in spec:
        if key not in _PHASE_KEYS:
            raise fail(sec, key, f"unknown key {key!r} in a phase; valid: {', '.join(_PHASE_KEYS)}")
    for key in ("algorithms", "rates", "tasks", "samples"):
        if key not in spec:
            raise fail(sec, None, f"phase {name!r} needs {key!r}")
    for algo in spec["algorithms"]:
        try:
            method, opts = parse_method(str(algo))
            method, preset = resolve(method)
            given = {k: v for k, v in {**preset, **opts}.items() if k not in MODEL_OPTIONS}
            method_class(method).options_class.from_given(given, method=method)
        except ValueError as e:
            raise fail(sec, "algorithms", f"algorithm {algo!r}: {e}") from None
    rates = tuple(float(r) for r in spec["rates"])
    if not rates or any(not 0 < r <= 1 for r in rates):
        raise fail(sec, "rates", f"rates must be numbers in (0, 1], got {spec['rates']!r}")
    for t in spec["tasks"]:
        if t not in tasks:
            raise fail(sec, "tasks", f"unknown task {t!r}; tasks: {', '.join(tasks) or '(none)'}")
    samples = spec["samples"]
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise fail(sec, "samples", f"samples must be an int >= 1, got {samples!r}")
    reader = str(spec.get("reader", "none"))
    try:
        from lingua_core.eval.readers import get_reader

        get_reader(reader)
    except ValueError as e:
        raise fail(sec, "reader", str(e)) from None
    return Phase(
        name,
        tuple(map(str, spec["algorithms"])),
        rates,
        tuple(spec["tasks"]),
        samples,
        reader,
        int(spec.get("seeds", 1)),
        str(spec.get("description", "")),
    )


@dataclass(frozen=True)
class Estimate:
    """What one phase would cost: calls, tokens and dollars (``None``: price unknown)."""

    phase: str
    reader: str
    compressor_calls: int
    reader_calls: int
    input_tokens: int
    output_tokens: int
    dollars: float | None

    def line(self) -> str:
        """One line for the dry-run report."""
        cost = (
            f"${self.dollars:,.2f}"
            if self.dollars is not None
            else "cost unknown (add a [prices] entry)"
        )
        return (
            f"{self.phase}: {self.compressor_calls:,} compressor calls, {self.reader_calls:,} "
            f"reader calls ({self.reader}), ~{self.input_tokens:,} input + "
            f"{self.output_tokens:,} output tokens, {cost}"
        )


def dry_run(study: Study, phase: Phase, *, reader: str | None = None) -> Estimate:
    """Count a phase's calls and tokens and price them; runs no compressor and no reader.

    Input tokens are the reader prompts at each rate: the prompt without context plus ``rate``
    times the context's tokens (cl100k when tiktoken is installed, else about 4/3 per word).
    Output tokens are each task type's expected reply length.
    """
    from lingua_core.eval.readers import price
    from lingua_core.pipeline.tokens import get_token_counter

    spec = reader or phase.reader
    try:
        counter = get_token_counter("cl100k_base")
    except (ImportError, OSError, ValueError):
        counter = None

    def count(texts: list[str]) -> list[int]:
        if counter is not None:
            return list(counter.count(texts))
        return [round(len(t.split()) * 4 / 3) for t in texts]

    calls = inp = out = 0
    per_condition = len(phase.algorithms) * len(phase.rates)
    for tname in phase.tasks:
        inst = study.tasks[tname]
        examples = inst.load(phase)
        n = len(examples) * per_condition * phase.seeds
        calls += n
        if spec != "none":
            ctx = count(["\n\n".join(e.contexts) for e in examples])
            bare = count(
                ["\n".join(m["content"] for m in inst.type.prompt(e, "")) for e in examples]
            )
            rate_sum = sum(phase.rates) * len(phase.algorithms) * phase.seeds
            inp += round(
                sum(c * rate_sum + b * per_condition * phase.seeds for c, b in zip(ctx, bare))
            )
            out += n * inst.type.output_tokens
    reader_calls = calls if spec != "none" else 0
    p = price(spec, study.prices)
    dollars = None if p is None else inp / 1e6 * p[0] + out / 1e6 * p[1]
    return Estimate(phase.name, spec, calls, reader_calls, inp, out, dollars)
