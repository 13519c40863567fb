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
) -> dict[str, float]:
    """Paired bootstrap of ``r*(a) - r*(b)`` on the examples both methods ran.

    Returns:
        ``difference``, its 95% interval ``low``/``high``, and a two-sided bootstrap ``p``.
    """
    ea, ra, ma = survival_matrix(records, a)
    eb, rb, mb = survival_matrix(records, b)
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


def markdown(records: Sequence[dict[str, Any]], tolerance: float = 0.05) -> str:
    """The report table: survival (95% CI) per method and rate, r* with its interval, latency."""
    methods = list(dict.fromkeys(r["method"] for r in records))
    rates = sorted({float(r["rate"]) for r in records}, reverse=True)
    head = "| method | n | " + " | ".join(f"rate {x:g}" for x in rates)
    lines = [head + " | r* (95% CI) | s per call |", "|---|---|" + "---|" * len(rates) + "---|---|"]
    for m in methods:
        ex, mr, mat = survival_matrix(records, m)
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
        r_star, lo, hi, _ = threshold_ci(mat, mr, tolerance)
        sec = np.mean([r["seconds"] for r in records if r["method"] == m])
        lines.append(
            f"| {m} | {len(ex)} | "
            + " | ".join(cells)
            + f" | {r_star:g} ({lo:g}-{hi:g}) | {sec:.2f} |"
        )
    return "\n".join(lines)


def plots(records: Sequence[dict[str, Any]], out_dir: str | Path) -> list[Path]:
    """Write the report's plots into ``out_dir``; returns their paths.

    ``survival.png`` (survival vs rate per method, 95% bands), ``latency.png`` (seconds per call
    vs rate) and, when the records hold several gold positions, ``position.png``.
    """
    from lingua_core._deps import require

    matplotlib = require("matplotlib")
    matplotlib.use("Agg")
    plt = require("matplotlib.pyplot")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    methods = list(dict.fromkeys(r["method"] for r in records))
    paths = []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for m in methods:
        _, rates, mat = survival_matrix(records, m)
        if mat.size == 0:
            continue
        cis = np.asarray([bootstrap_ci(mat[:, j]) for j in range(len(rates))])
        ax.plot(rates, 100 * mat.mean(axis=0), marker="o", label=m)
        ax.fill_between(rates, 100 * cis[:, 0], 100 * cis[:, 1], alpha=0.15)
    ax.set_xlabel("rate (fraction of tokens kept)")
    ax.set_ylabel("answer survival, % (95% CI)")
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
    golds = {r.get("gold") for r in records if r.get("gold") is not None}
    if len(golds) > 1:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for m in methods:
            by_pos: dict[int, list[float]] = defaultdict(list)
            for r in records:
                if r["method"] == m and r.get("gold") is not None and float(r["rate"]) < 1:
                    by_pos[int(r["gold"])].append(float(r["survived"]))
            xs = sorted(by_pos)
            ax.plot(xs, [100 * np.mean(by_pos[x]) for x in xs], marker="o", label=m)
        ax.set_xlabel("position of the gold passage")
        ax.set_ylabel("answer survival, % (rates < 1)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        paths.append(out / "position.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths
