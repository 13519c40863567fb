"""The study's analysis: thresholds r* per algorithm and task type, and the hypothesis tests.

From per-sample records (a study's results file):

- **Thresholds.** For each task type and algorithm, ``r*`` is the lowest rate whose mean metric
  stays within ``tolerance`` of the metric at the highest rate (see
  :func:`lingua_core.eval.report.threshold`), with a bootstrap interval over samples. An
  algorithm that never fails, or never succeeds, has a flat curve and gets the lowest rate
  tested (it has nothing to lose).
- **Homogeneity** (are the thresholds of all algorithms equal?): a permutation test on
  per-sample outcomes. The statistic is the range of ``r*`` across algorithms (summed over task
  types for the pooled test); its null distribution comes from permuting, within each sample,
  which algorithm each of its rate curves belongs to. No model is fitted, so constant outcomes
  cannot break it.
- **Interaction** (does the algorithm effect depend on the task type?): logistic regression
  ``success ~ algorithm + task_type + log(rate)`` against the same with ``algorithm x
  task_type``, likelihood-ratio test with ``(A - 1)(T - 1)`` degrees of freedom (statsmodels).
  Where a fit separates (an algorithm that never fails), both models are fitted with a small
  ridge penalty instead and the test says so. A sample's success is its metric itself for 0/1
  metrics, and for graded ones (ROUGE-L, content recall) whether it stays within ``tolerance``
  of the same sample at the highest rate.

Every test reports ``test``, ``statistic``, ``df``, ``p_value`` and ``n``; the verdicts state
each hypothesis with them. Algorithms that never compress (``none``: every record keeps at least
99% of its tokens) get a threshold but stay out of the tests: they have no break point.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from lingua_core.eval.report import threshold, threshold_ci
from lingua_core.eval.tasks import TASK_TYPES

PERMUTATIONS = 999
_BINARY = {"survived", "exact_match", "accuracy", "pass_at_1", "answer_in_output"}


def metric_of(records: Sequence[dict[str, Any]], task: str, prefer: str = "auto") -> str:
    """The metric a task type is judged on: the reader's if any record has it, else the proxy.

    Raises:
        ValueError: When the records hold neither (a reader metric run without a reader says so).
    """
    ttype = TASK_TYPES[task]
    rows = [r for r in records if r.get("task_type") == task]
    has = {k for r in rows for k, v in r.items() if v is not None}
    reader_ok = ttype.reader_metric in has
    if prefer == "reader" and not reader_ok:
        msg = f"{task}: no reader metric ({ttype.reader_metric}) in the results: run with --reader"
        raise ValueError(msg)
    if prefer in ("auto", "reader") and reader_ok:
        return ttype.reader_metric
    if ttype.proxy_metric and ttype.proxy_metric in has:
        return ttype.proxy_metric
    msg = f"{task}: no offline proxy exists and no reader metric was recorded: run with --reader"
    raise ValueError(msg)


def matrices(
    records: Sequence[dict[str, Any]], task: str, metric: str
) -> tuple[list[str], list[float], list[str], np.ndarray]:
    """``(algorithms, rates, samples, X)``: ``X[a, s, r]``, mean over seeds.

    Only samples that every algorithm ran at every rate are kept (the tests are paired).
    """
    cells: dict[tuple[str, str, float], list[float]] = defaultdict(list)
    for r in records:
        if r.get("task_type") == task and r.get(metric) is not None:
            cells[(r["algorithm"], r["example"], float(r["rate"]))].append(float(r[metric]))
    algos = sorted({a for a, _, _ in cells})
    rates = sorted({x for _, _, x in cells}, reverse=True)
    samples = sorted({e for _, e, _ in cells})
    samples = [e for e in samples if all((a, e, x) in cells for a in algos for x in rates)]
    x = np.asarray(
        [[[np.mean(cells[(a, e, r)]) for r in rates] for e in samples] for a in algos]
    ).reshape(len(algos), len(samples), len(rates))
    return algos, rates, samples, x


def _success(x: np.ndarray, metric: str, tolerance: float) -> np.ndarray:
    if metric in _BINARY:
        return (x >= 0.5).astype(np.float64)
    return (x >= x[..., :1] - tolerance - 1e-12).astype(np.float64)


def _thresholds(x: np.ndarray, rates: Sequence[float], tolerance: float) -> np.ndarray:
    return np.asarray([threshold(x[a].mean(axis=0), rates, tolerance) for a in range(len(x))])


def homogeneity(
    blocks: Sequence[tuple[np.ndarray, list[float]]],
    tolerance: float,
    *,
    permutations: int = PERMUTATIONS,
    seed: int = 0,
) -> dict[str, Any]:
    """Permutation test that every algorithm has the same threshold, pooled over ``blocks``.

    Each block is ``(X, rates)`` with ``X[a, s, r]`` for one task type; algorithms must be the
    same in every block.
    """
    blocks = [(x, r) for x, r in blocks if x.shape[0] > 1 and x.shape[1] > 0]
    if not blocks:
        return _untestable("permutation test of equal thresholds", "fewer than two algorithms")

    def stat(xs: Sequence[np.ndarray]) -> float:
        return float(sum(np.ptp(_thresholds(x, r, tolerance)) for x, (_, r) in zip(xs, blocks)))

    observed = stat([x for x, _ in blocks])
    rng = np.random.default_rng(seed)
    beyond = 0
    for _ in range(permutations):
        shuffled = []
        for x, _ in blocks:
            perm = np.argsort(rng.random((x.shape[0], x.shape[1])), axis=0)  # per sample
            shuffled.append(np.take_along_axis(x, perm[:, :, None], axis=0))
        beyond += stat(shuffled) >= observed - 1e-12
    n = int(sum(x.size for x, _ in blocks))
    return {
        "test": "permutation test of equal thresholds (range of r*, algorithms permuted within "
        f"samples, {permutations} permutations)",
        "statistic": observed,
        "df": int(blocks[0][0].shape[0] - 1),
        "p_value": (1 + beyond) / (1 + permutations),
        "n": n,
    }


def _untestable(test: str, why: str) -> dict[str, Any]:
    return {
        "test": f"{test}: not testable ({why})",
        "statistic": 0.0,
        "df": 0,
        "p_value": 1.0,
        "n": 0,
    }


def _ridge_llf(y: np.ndarray, design: np.ndarray, penalty: float = 1.0) -> float:
    """Log-likelihood of a ridge-penalised logistic fit (intercept unpenalised), by Newton."""
    beta = np.zeros(design.shape[1])
    pen = np.full(design.shape[1], penalty)
    pen[0] = 0.0
    for _ in range(100):
        eta = design @ beta
        p = 1 / (1 + np.exp(-np.clip(eta, -30, 30)))
        grad = design.T @ (y - p) - pen * beta
        hess = (design * (p * (1 - p))[:, None]).T @ design + np.diag(pen)
        step = np.linalg.solve(hess + 1e-9 * np.eye(len(beta)), grad)
        beta += step
        if np.max(np.abs(step)) < 1e-8:
            break
    p = np.clip(1 / (1 + np.exp(-np.clip(design @ beta, -30, 30))), 1e-12, 1 - 1e-12)
    return float(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))


def interaction(rows: Sequence[tuple[str, str, float, float]]) -> dict[str, Any]:
    """Likelihood-ratio test of Algorithm x TaskType on ``(algo, task, rate, success)`` rows."""
    algos = sorted({r[0] for r in rows})
    tasks = sorted({r[1] for r in rows})
    test = (
        "logistic regression LRT of algorithm x task_type "
        "(success ~ algorithm + task_type + log(rate))"
    )
    if len(algos) < 2 or len(tasks) < 2:
        return _untestable(test, "needs two algorithms and two task types")
    y = np.asarray([r[3] for r in rows], dtype=np.float64)
    a_idx = {a: i for i, a in enumerate(algos)}
    t_idx = {t: i for i, t in enumerate(tasks)}
    n = len(rows)
    cols = [np.ones(n), np.log(np.asarray([r[2] for r in rows]))]
    dummies_a = [
        np.asarray([a_idx[r[0]] == i for r in rows], dtype=float) for i in range(1, len(algos))
    ]
    dummies_t = [
        np.asarray([t_idx[r[1]] == j for r in rows], dtype=float) for j in range(1, len(tasks))
    ]
    base = np.column_stack(cols + dummies_a + dummies_t)
    inter = [a * t for a in dummies_a for t in dummies_t]
    full = np.column_stack([base, *inter])
    df = len(inter)
    llf0 = llf1 = None
    how = test
    try:
        import warnings

        import statsmodels.api as sm

        with warnings.catch_warnings():
            warnings.simplefilter("error")  # separation and non-convergence warnings
            m0 = sm.Logit(y, base).fit(disp=0, maxiter=200)
            m1 = sm.Logit(y, full).fit(disp=0, maxiter=200)
        if m0.mle_retvals.get("converged") and m1.mle_retvals.get("converged"):
            coefs = np.concatenate([m0.params, m1.params])
            if np.all(np.isfinite(coefs)) and np.max(np.abs(coefs)) < 15:
                llf0, llf1 = float(m0.llf), float(m1.llf)
    except ImportError:
        how = test + " [statsmodels not installed: ridge fit]"
    except Exception:  # perfect separation, singular design
        llf0 = llf1 = None
    if llf0 is None or llf1 is None:
        how = test.replace(
            "logistic regression", "ridge-penalised logistic regression (a fit separates)"
        )
        llf0, llf1 = _ridge_llf(y, base), _ridge_llf(y, full)
    stat = max(0.0, 2 * (llf1 - llf0))
    from scipy.stats import chi2

    p_value = float(chi2.sf(stat, df)) if df else 1.0
    return {"test": how, "statistic": stat, "df": df, "p_value": p_value, "n": n}


def analyse(
    records: Sequence[dict[str, Any]],
    *,
    tolerance: float = 0.05,
    prefer: str = "auto",
    alpha: float = 0.05,
    permutations: int = PERMUTATIONS,
) -> dict[str, Any]:
    """Thresholds, homogeneity (pooled and by task type), interaction and verdicts.

    Returns:
        A JSON-safe dict with keys ``thresholds`` (algorithm -> task type -> ``r_star``,
        ``low``, ``high``, ``metric``, ``n``), ``homogeneity`` (with ``by_task``),
        ``interaction`` and ``verdict`` (one sentence per hypothesis).
    """
    tasks = [t for t in TASK_TYPES if any(r.get("task_type") == t for r in records)]
    if not tasks:
        msg = "no study records (with a task_type) in the results"
        raise ValueError(msg)
    thresholds: dict[str, dict[str, Any]] = defaultdict(dict)
    blocks, by_task, rows = [], {}, []
    references = _references(records)
    for t in tasks:
        metric = metric_of(records, t, prefer)
        algos, rates, samples, x = matrices(records, t, metric)
        if not samples:
            continue
        for a, name in enumerate(algos):
            r_star, lo, hi, _ = threshold_ci(x[a], rates, tolerance)
            thresholds[name][t] = {
                "r_star": r_star,
                "low": lo,
                "high": hi,
                "metric": metric,
                "n": len(samples),
            }
        tested = [a for a, name in enumerate(algos) if name not in references]
        x, algos = x[tested], [algos[a] for a in tested]
        blocks.append((x, rates))
        by_task[t] = homogeneity([(x, rates)], tolerance, permutations=permutations)
        ok = _success(x, metric, tolerance)
        for a, name in enumerate(algos):
            for s in range(len(samples)):
                for j, rate in enumerate(rates):
                    rows.append((name, t, rate, float(ok[a, s, j])))
    pooled = homogeneity(blocks, tolerance, permutations=permutations)
    pooled["by_task"] = by_task
    inter = interaction(rows)
    return {
        "thresholds": dict(thresholds),
        "homogeneity": pooled,
        "interaction": inter,
        "verdict": [
            _verdict("H1: the break point r* is the same for every algorithm", pooled, alpha),
            _verdict(
                "H2: the algorithm effect does not depend on the task type "
                "(no Algorithm x TaskType interaction)",
                inter,
                alpha,
            ),
        ],
        "tolerance": tolerance,
        "references": sorted(references),
    }


def _references(records: Sequence[dict[str, Any]]) -> set[str]:
    """Algorithms that never compress (``none``): every record keeps >= 99% of its tokens.

    They have a threshold (the lowest rate: nothing is lost) but no break point to compare, so
    the tests leave them out.
    """
    seen: dict[str, bool] = {}
    for r in records:
        achieved = r.get("achieved_rate")
        if achieved is None:
            seen.setdefault(str(r["algorithm"]), False)
            continue
        name = str(r["algorithm"])
        seen[name] = seen.get(name, True) and float(achieved) >= 0.99
    return {name for name, never in seen.items() if never}


def _verdict(hypothesis: str, test: dict[str, Any], alpha: float) -> str:
    if test["n"] == 0:
        return f"{hypothesis}: not tested ({test['test']})."
    word = "rejected" if test["p_value"] < alpha else "not rejected"
    p = test["p_value"]
    p_text = f"{p:.3g}" if p >= 1e-4 else "< 0.0001"
    return (
        f"{hypothesis}: {word} at alpha={alpha} ({test['test']}; statistic = "
        f"{test['statistic']:.3f}, df = {test['df']}, p = {p_text}, n = {test['n']})."
    )


def plot(
    records: Sequence[dict[str, Any]], analysis: dict[str, Any], path: str, prefer: str = "auto"
) -> str:
    """Metric against rate per algorithm, one panel per task type, r* marked; the PNG path."""
    from lingua_core._deps import require

    require("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = [t for t in TASK_TYPES if any(r.get("task_type") == t for r in records)]
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks) + 1.6, 3.6), squeeze=False)
    every = sorted({str(r["algorithm"]) for r in records if r.get("task_type") in tasks})
    cmap = plt.get_cmap("tab20" if len(every) > 10 else "tab10")
    color = {name: cmap(i % cmap.N) for i, name in enumerate(every)}  # one colour per algorithm
    for ax, t in zip(axes[0], tasks):
        metric = metric_of(records, t, prefer)
        algos, rates, _, x = matrices(records, t, metric)
        for a, name in enumerate(algos):
            (line,) = ax.plot(
                rates, x[a].mean(axis=0), marker="o", ms=3, label=name, color=color[name]
            )
            r_star = analysis["thresholds"].get(name, {}).get(t, {}).get("r_star")
            if r_star is not None and not math.isnan(r_star):
                ax.axvline(r_star, color=line.get_color(), ls=":", lw=1)
        ax.set_title(f"{t} ({metric})")
        ax.set_xlabel("rate")
        ax.invert_xaxis()
    axes[0][0].set_ylabel("mean metric")
    labels: dict[str, Any] = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            labels.setdefault(label, handle)
    order = sorted(labels)
    fig.legend([labels[k] for k in order], order, fontsize=7, loc="center right")
    fig.tight_layout(rect=(0, 0, 0.86, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def markdown(result: dict[str, Any]) -> str:
    """The analysis as Markdown: the r* table, the tests and the verdicts."""
    th = result["thresholds"]
    tasks = sorted({t for per in th.values() for t in per}, key=list(TASK_TYPES).index)
    lines = [
        f"Thresholds r* (lowest rate within {result['tolerance']:.2f} of the highest rate; "
        "95% bootstrap interval):",
        "",
        "| algorithm | " + " | ".join(tasks) + " |",
        "|---|" + "---|" * len(tasks),
    ]
    for algo in sorted(th):
        cells = []
        for t in tasks:
            c = th[algo].get(t)
            cells.append(
                "" if c is None else f"{c['r_star']:.2f} [{c['low']:.2f}, {c['high']:.2f}]"
            )
        lines.append(f"| {algo} | " + " | ".join(cells) + " |")
    metrics = {t: next(iter(th[a][t]["metric"] for a in th if t in th[a])) for t in tasks}
    lines += [
        "",
        "Metrics: " + ", ".join(f"{t}: {m}" for t, m in metrics.items()),
        "",
        "Tests:",
        "",
    ]
    hom = result["homogeneity"]
    for name, test in (
        [("homogeneity (pooled)", hom)]
        + [(f"homogeneity ({t})", v) for t, v in hom.get("by_task", {}).items()]
        + [("interaction", result["interaction"])]
    ):
        lines.append(
            f"- {name}: {test['test']}; statistic {test['statistic']:.3f}, df {test['df']}, "
            f"p {test['p_value']:.3g}, n {test['n']}"
        )
    if result.get("references"):
        lines += [
            "",
            "Left out of the tests (they never compress, so have no break point): "
            + ", ".join(result["references"]),
        ]
    lines += ["", "Verdicts:", ""] + [f"- {v}" for v in result["verdict"]]
    return "\n".join(lines)
