"""Plot a pruner training run's curves (``history.jsonl``) for the docs.

python tools/plot_pruner_training.py build/pruner_run/history.jsonl docs/img/pruner_training.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    """Losses and validation sentence F1 against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    rows = [json.loads(x) for x in src.read_text().splitlines() if x.strip()]
    steps = [r["step"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    a.plot(
        steps,
        [r["train_loss"] for r in rows],
        marker="o",
        label="train loss (mean since last eval)",
    )
    a.plot(steps, [r["val_loss"] for r in rows], marker="o", label="validation loss")
    a.set_xlabel("step (16 pairs)")
    a.legend(fontsize=8)
    b.plot(steps, [r["f1"] for r in rows], marker="o", color="C2")
    for r in rows:
        b.annotate(
            f"{r['threshold']:g}",
            (r["step"], r["f1"]),
            fontsize=7,
            xytext=(2, 4),
            textcoords="offset points",
        )
    b.set_xlabel("step")
    b.set_ylabel("validation sentence F1")
    b.set_title("at the best threshold (annotated)", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
