"""Plot a pruner training run's curves (``history.jsonl`` of each stage) for the docs.

python tools/plot_pruner_training.py build/pruner_run/history.jsonl \
    build/pruner_run/continued/history.jsonl docs/img/pruner_training.png

A later stage starts from the best model of the stage before it (``init_from``), so its steps
are drawn from that model's step on, after a dotted line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _stages(paths: list[Path]) -> list[list[dict]]:
    """Each stage's rows with ``x``: steps trained since the first stage began."""
    out: list[list[dict]] = []
    offset = 0
    for path in paths:
        rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        for r in rows:
            r["x"] = offset + r["step"]
        out.append(rows)
        offset = max(rows, key=lambda r: r["f1"])["x"]  # the next stage starts from the best
    return out


def main() -> None:
    """Losses and validation sentence F1 against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    *srcs, dest = sys.argv[1:]
    out = Path(dest)
    stages = _stages([Path(s) for s in srcs])
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    for k, rows in enumerate(stages):
        xs = [r["x"] for r in rows]
        tag = f"stage {k + 1} " if len(stages) > 1 else ""
        for key, color, what in (
            ("train_loss", "C0", "train loss (mean since last eval)"),
            ("val_loss", "C1", "validation loss"),
        ):
            a.plot(
                xs,
                [r[key] for r in rows],
                marker="o",
                color=color,
                alpha=1 - 0.35 * k,
                label=f"{tag}{what}",
            )
        b.plot(xs, [r["f1"] for r in rows], marker="o", color="C2", alpha=1 - 0.35 * k)
        for r in rows:
            b.annotate(
                f"{r['threshold']:g}",
                (r["x"], r["f1"]),
                fontsize=7,
                xytext=(2, 4),
                textcoords="offset points",
            )
        if k:
            for ax in (a, b):
                ax.axvline(xs[0] - rows[0]["step"], color="grey", linestyle=":", linewidth=1)
    a.set_xlabel("steps trained (16 pairs each)")
    a.legend(fontsize=7)
    b.set_xlabel("steps trained")
    b.set_ylabel("validation sentence F1")
    b.set_title("at the best threshold (annotated)", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
