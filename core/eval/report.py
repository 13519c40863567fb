"""Reports of a sweep: survival per method and rate with bootstrap intervals, thresholds r*.

The threshold ``r*`` of a method is the lowest rate whose answer survival stays within
``tolerance`` (5 points) of the method's survival at rate 1.0 (uncompressed); its interval comes
from resampling examples (bootstrap), and two methods' thresholds are compared on the same
resamples (paired). Plots need matplotlib (``pip install matplotlib``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPS = 2000
#: Per-record metrics a report can be made on, with their labels (the reader's need
#: ``lingua eval run --reader``).
METRICS = {
    "survived": "answer survival",
    "answer_in_output": "reader: answer in output",
    "exact_match": "reader: exact match",
    "f1": "reader: F1",
}


def _check_metric(records: Sequence[dict[str, Any]], metric: str) -> None:
    if metric not in METRICS:
        msg = f"unknown metric {metric!r}; valid: {', '.join(METRICS)}"
        raise ValueError(msg)
    if records and not any(metric in r for r in records):
        msg = f"no record holds {metric!r} (reader metrics need: lingua eval run --reader local)"
        raise ValueError(msg)


def load_records(path: str | Path) -> list[dict[str, Any]]:
    """The records of a sweep file."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines if x.strip()]


def survival_matrix(
    records: Sequence[dict[str, Any]], method: str, key: str = "survived"
) -> tuple[list[str], list[float], np.ndarray]:
    """``(examples, rates, M)``: ``M[i, j]`` = mean of ``key`` for example i at rate j (over seeds).

    Only examples present at every rate are kept.
    """
    cells: dict[tuple[str, float], list[float]] = defaultdict(list)
    for r in records:
        if r["method"] == method and key in r:
            cells[(r["example"], float(r["rate"]))].append(float(r[key]))
    rates = sorted({rate for _, rate in cells}, reverse=True)
    examples = sorted({ex for ex, _ in cells})
    examples = [e for e in examples if all((e, rate) in cells for rate in rates)]
    m = np.asarray([[np.mean(cells[(e, rate)]) for rate in rates] for e in examples])
    return examples, rates, m.reshape(len(examples), len(rates))


def bootstrap_ci(
    values: np.ndarray, reps: int = REPS, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (resampling its rows)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(reps, len(values)))
    means = values[idx].mean(axis=1)
    lo = (1 - level) / 2
    return float(np.quantile(means, lo)), float(np.quantile(means, 1 - lo))


def threshold(curve: np.ndarray, rates: Sequence[float], tolerance: float = 0.05) -> float:
    """Lowest rate whose survival is within ``tolerance`` of the survival at the highest rate.

    ``curve`` holds survival per rate, rates in decreasing order (the first is the reference,
    normally 1.0). Rates below the first one that falls out of tolerance do not count: the
    threshold is where quality first breaks.
    """
    best = float(rates[0])
    for s, rate in zip(curve, rates):
        if s < curve[0] - tolerance - 1e-12:
            break
        best = float(rate)
    return best


def threshold_ci(
    m: np.ndarray,
    rates: Sequence[float],
    tolerance: float = 0.05,
    reps: int = REPS,
    seed: int = 0,
) -> tuple[float, float, float, np.ndarray]:
    """``(r*, low, high, replicates)``: the threshold and its bootstrap interval."""
    point = threshold(m.mean(axis=0), rates, tolerance)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, m.shape[0], size=(reps, m.shape[0]))
    reps_r = np.asarray([threshold(m[i].mean(axis=0), rates, tolerance) for i in idx])
    return point, float(np.quantile(reps_r, 0.025)), float(np.quantile(reps_r, 0.975)), reps_r


def compare_thresholds(
    records: Sequence[dict[str, Any]],
    a: str,
    b: str,
    tolerance: float = 0.05,
    reps: int = REPS,
    seed: int = 0,
    metric: str = "survived",
) -> dict[str, float]:
    """Paired bootstrap of ``r*(a) - r*(b)`` on the examples both methods ran.

    Returns:
        ``difference``, its 95% interval ``low``/``high``, and a two-sided bootstrap ``p``.
    """
    ea, ra, ma = survival_matrix(records, a, metric)
    eb, rb, mb = survival_matrix(records, b, metric)
    common = sorted(set(ea) & set(eb))
    rates = [r for r in ra if r in rb]
    ia = [ea.index(e) for e in common]
    ib = [eb.index(e) for e in common]
    ma = ma[np.ix_(ia, [ra.index(r) for r in rates])]
    mb = mb[np.ix_(ib, [rb.index(r) for r in rates])]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(common), size=(reps, len(common)))
    d = np.asarray(
        [
            threshold(ma[i].mean(axis=0), rates, tolerance)
            - threshold(mb[i].mean(axis=0), rates, tolerance)
            for i in idx
        ]
    )
    point = threshold(ma.mean(axis=0), rates, tolerance) - threshold(
        mb.mean(axis=0), rates, tolerance
    )
    p = min(1.0, 2 * min(float((d <= 0).mean()), float((d >= 0).mean())))
    return {
        "difference": point,
        "low": float(np.quantile(d, 0.025)),
        "high": float(np.quantile(d, 0.975)),
        "p": p,
        "n": len(common),
    }


#: At most this many distinct gold positions make a fixed-position run (position table and plot).
MAX_POSITIONS = 5


def _fixed_positions(records: Sequence[dict[str, Any]]) -> list[int]:
    golds = sorted({int(r["gold"]) for r in records if r.get("gold") is not None})
    return golds if 1 < len(golds) <= MAX_POSITIONS else []


def compare_all(
    records: Sequence[dict[str, Any]],
    tolerance: float = 0.05,
    reps: int = REPS,
    metric: str = "survived",
) -> list[dict[str, Any]]:
    """Paired threshold comparisons of every pair of compressing methods, Holm-adjusted.

    Methods without rate-1.0 records (no uncompressed reference) and ``none`` are left out. Each
    row is :func:`compare_thresholds`'s dict plus ``a``, ``b`` and ``p_holm`` (Holm's step-down
    adjustment over all the pairs, so a small ``p_holm`` means the thresholds differ even after
    looking at every pair).
    """
    methods = [
        m
        for m in dict.fromkeys(r["method"] for r in records)
        if m != "none" and any(r["method"] == m and float(r["rate"]) == 1.0 for r in records)
    ]
    rows = [
        {"a": a, "b": b, **compare_thresholds(records, a, b, tolerance, reps, metric=metric)}
        for i, a in enumerate(methods)
        for b in methods[i + 1 :]
    ]
    order = sorted(range(len(rows)), key=lambda i: rows[i]["p"])
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(rows) - rank) * rows[i]["p"]))
        rows[i]["p_holm"] = running
    return rows


def markdown(
    records: Sequence[dict[str, Any]], tolerance: float = 0.05, metric: str = "survived"
) -> str:
    """The report as Markdown: survival per method and rate, thresholds, comparisons, positions.

    Survival (95% CI) per method and rate, r* with its interval and latency; then the paired
    threshold comparisons and, for a fixed-position run, survival by gold position.

    r* needs the uncompressed reference (rate 1.0); a method without it shows ``-``. ``metric``
    is a key of :data:`METRICS` (default: answer survival in the compressed context).

    Raises:
        ValueError: For an unknown metric, or one no record holds.
    """
    _check_metric(records, metric)
    methods = list(dict.fromkeys(r["method"] for r in records))
    rates = sorted({float(r["rate"]) for r in records}, reverse=True)
    head = "| method | n | " + " | ".join(f"rate {x:g}" for x in rates)
    lines = [head + " | r* (95% CI) | s per call |", "|---|---|" + "---|" * len(rates) + "---|---|"]
    for m in methods:
        ex, mr, mat = survival_matrix(records, m, metric)
        if not ex:
            continue
        cells = []
        for rate in rates:
            if rate in mr:
                col = mat[:, mr.index(rate)]
                lo, hi = bootstrap_ci(col)
                cells.append(f"{100 * col.mean():.0f}% ({100 * lo:.0f}-{100 * hi:.0f})")
            else:
                cells.append("-")
        if mr[0] == 1.0:
            r_star, lo_r, hi_r, _ = threshold_ci(mat, mr, tolerance)
            star = f"{r_star:g} ({lo_r:g}-{hi_r:g})"
        else:
            star = "-"
        sec = np.mean([r["seconds"] for r in records if r["method"] == m])
        lines.append(f"| {m} | {len(ex)} | " + " | ".join(cells) + f" | {star} | {sec:.2f} |")
    pairs = compare_all(records, tolerance, metric=metric)
    if pairs:
        lines += [
            "",
            f"Threshold differences r*(a) - r*(b), paired bootstrap on shared examples "
            f"(tolerance {100 * tolerance:g} points; p Holm-adjusted over {len(pairs)} pairs):",
            "",
            "| a | b | n | r*(a) - r*(b) (95% CI) | p | p (Holm) |",
            "|---|---|---|---|---|---|",
        ]
        for c in pairs:
            lines.append(
                f"| {c['a']} | {c['b']} | {c['n']} | {c['difference']:+.2f} "
                f"({c['low']:+.2f} to {c['high']:+.2f}) | {c['p']:.3f} | {c['p_holm']:.3f} |"
            )
    golds = _fixed_positions(records)
    if golds:
        lines += [
            "",
            f"{METRICS[metric].capitalize()} by position of the gold passage (95% CI):",
            "",
            "| method | rate | n | " + " | ".join(f"gold at {g}" for g in golds) + " |",
            "|---|---|---|" + "---|" * len(golds),
        ]
        for m in methods:
            for rate in rates:
                cells = []
                ns = []
                for g in golds:
                    vals = _survival_at(records, m, rate, g, metric)
                    ns.append(len(vals))
                    if len(vals):
                        lo, hi = bootstrap_ci(vals)
                        cells.append(f"{100 * vals.mean():.0f}% ({100 * lo:.0f}-{100 * hi:.0f})")
                    else:
                        cells.append("-")
                if any(ns):
                    lines.append(f"| {m} | {rate:g} | {min(ns)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _survival_at(
    records: Sequence[dict[str, Any]], method: str, rate: float, gold: int, metric: str = "survived"
) -> np.ndarray:
    """Survival per example (mean over seeds) of ``method`` at ``rate``, gold at index ``gold``."""
    cells: dict[str, list[float]] = defaultdict(list)
    for r in records:
        if (
            r["method"] == method
            and float(r["rate"]) == rate
            and r.get("gold") is not None
            and int(r["gold"]) == gold
            and metric in r
        ):
            cells[r["example"]].append(float(r[metric]))
    return np.asarray([np.mean(v) for v in cells.values()], dtype=np.float64)


def plots(
    records: Sequence[dict[str, Any]], out_dir: str | Path, metric: str = "survived"
) -> list[Path]:
    """Write the report's plots into ``out_dir``; returns their paths.

    ``survival.png`` (survival vs rate per method, 95% bands), ``latency.png`` (seconds per call
    vs rate) and, for a fixed-position run (2 to :data:`MAX_POSITIONS` distinct gold positions),
    ``position.png`` (survival by gold position, one panel per rate below 1).
    """
    from lingua_core._deps import require

    _check_metric(records, metric)
    matplotlib = require("matplotlib")
    matplotlib.use("Agg")
    plt = require("matplotlib.pyplot")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    methods = list(dict.fromkeys(r["method"] for r in records))
    paths = []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for m in methods:
        _, rates, mat = survival_matrix(records, m, metric)
        if mat.size == 0:
            continue
        cis = np.asarray([bootstrap_ci(mat[:, j]) for j in range(len(rates))])
        ax.plot(rates, 100 * mat.mean(axis=0), marker="o", label=m)
        ax.fill_between(rates, 100 * cis[:, 0], 100 * cis[:, 1], alpha=0.15)
    ax.set_xlabel("rate (fraction of tokens kept)")
    ax.set_ylabel(f"{METRICS[metric]}, % (95% CI)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    paths.append(out / "survival.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for m in methods:
        by_rate: dict[float, list[float]] = defaultdict(list)
        for r in records:
            if r["method"] == m:
                by_rate[float(r["rate"])].append(r["seconds"])
        xs = sorted(by_rate)
        ax.plot(xs, [np.mean(by_rate[x]) for x in xs], marker="o", label=m)
    ax.set_xlabel("rate")
    ax.set_ylabel("seconds per compression call (mean)")
    ax.set_yscale("symlog", linthresh=0.01)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    paths.append(out / "latency.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    golds = _fixed_positions(records)
    low_rates = sorted({float(r["rate"]) for r in records if float(r["rate"]) < 1}, reverse=True)
    if golds and low_rates:
        fig, axes = plt.subplots(
            1, len(low_rates), figsize=(3.2 * len(low_rates) + 1, 4), sharey=True, squeeze=False
        )
        for ax, rate in zip(axes[0], low_rates):
            for m in methods:
                pts = [(g, _survival_at(records, m, rate, g, metric)) for g in golds]
                pts = [(g, v) for g, v in pts if len(v)]
                if not pts:
                    continue
                xs = [g for g, _ in pts]
                ys = np.asarray([100 * v.mean() for _, v in pts])
                ci = np.asarray([bootstrap_ci(v) for _, v in pts]) * 100
                ax.errorbar(
                    xs, ys, yerr=[ys - ci[:, 0], ci[:, 1] - ys], marker="o", capsize=3, label=m
                )
            ax.set_title(f"rate {rate:g}")
            ax.set_xticks(golds)
            ax.set_xlabel("index of the gold passage")
            ax.grid(alpha=0.3)
        axes[0][0].set_ylabel(f"{METRICS[metric]}, % (95% CI)")
        axes[0][-1].legend(fontsize=7)
        fig.tight_layout()
        paths.append(out / "position.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths
