"""The training loop every learned model of lingua-rag shares: token labels, resumable.

A model here is a network ``net(ids, mask, types) -> (keep_logits, relevance_logits)`` over
encoded :class:`~lingua_core.train.examples.Example` rows: each token's keep logit is trained on
its label (binary cross-entropy; special, question and padding tokens are labelled -100 and
left out of the loss), the relevance logit, when ``relevance_weight`` is not 0, on whether the
row has a kept unit. Gradients are clipped to norm 1 after the backward pass. Validation F1 of
the keep class over units (sentences for a pruner, words for LLMLingua-2: a unit is kept when
the mean keep probability of its tokens reaches the threshold, the best of a grid) decides early
stopping and the model's default threshold. bf16 autocast on CUDA, and on a CPU only where it
measures faster.

Everything is resumable: ``output/checkpoint/`` holds the weights, the optimizer, the scheduler
and the step, written at every evaluation; a run started again on the same folder, config and
data goes on from there (the batch order is a function of the seed). ``output/model/`` is the
best model so far (written by the task's ``save_model``); ``output/history.jsonl`` holds one
line per evaluation.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lingua_core._deps import require
from lingua_core.train.examples import THRESHOLDS, Example, batches, collate, sentence_f1

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoopConfig:
    """What the loop itself reads (the tasks' configs add their own fields)."""

    batch_size: int = 16
    epochs: float = 1.0
    max_steps: int | None = None
    learning_rate: float = 1e-4
    warmup: float = 0.06
    weight_decay: float = 0.01
    validation: float = 0.05
    eval_every: int = 200
    patience: int = 4
    seed: int = 0
    device: str | None = None
    dtype: str = "auto"
    threads: int | None = None
    progress: bool = True

    def check(self) -> None:
        """Raise ``ValueError`` naming a field outside its range."""
        for name in ("batch_size", "eval_every", "patience"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                msg = f"{name} must be an int >= 1, got {v!r}"
                raise ValueError(msg)
        if not self.epochs > 0:
            msg = f"epochs must be > 0, got {self.epochs!r}"
            raise ValueError(msg)
        if self.dtype not in ("auto", "float32", "bfloat16"):
            msg = f"dtype must be one of 'auto', 'float32', 'bfloat16', got {self.dtype!r}"
            raise ValueError(msg)


@dataclass
class TrainResult:
    """What a training run produced."""

    model_dir: Path
    best_f1: float
    threshold: float
    steps: int
    seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)


def _loss(
    net: Any, batch: dict[str, Any], relevance_weight: float, torch: Any
) -> tuple[Any, Any, Any]:
    keep, rel = net(batch["ids"], batch["mask"], batch["types"])
    keep, rel = keep.float(), rel.float()
    labels = batch["labels"]
    scored = labels >= 0
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    token_loss = bce(keep[scored], labels[scored]) if scored.any() else keep.sum() * 0
    rel_loss = bce(rel, batch["relevant"])
    if not relevance_weight:
        return token_loss, keep, rel
    return token_loss + relevance_weight * rel_loss, keep, rel


def _evaluate(
    net: Any,
    examples: Sequence[Example],
    cfg: LoopConfig,
    relevance_weight: float,
    torch: Any,
    dev: str,
    pad: int,
    autocast: Any,
) -> dict[str, Any]:
    net.eval()
    probs: list[np.ndarray] = []
    losses = []
    with torch.inference_mode(), autocast():
        for i in range(0, len(examples), cfg.batch_size * 2):
            part = examples[i : i + cfg.batch_size * 2]
            batch = {k: v.to(dev) for k, v in collate(part, pad, torch).items()}
            loss, keep, _ = _loss(net, batch, relevance_weight, torch)
            losses.append(float(loss) * len(part))
            p = torch.sigmoid(keep).cpu().numpy()
            probs += [p[j, : len(e.ids)] for j, e in enumerate(part)]
    net.train()
    f1 = sentence_f1(probs, examples, THRESHOLDS)
    best = max(f1, key=lambda t: (f1[t], -abs(t - 0.5)))
    return {
        "val_loss": sum(losses) / max(len(examples), 1),
        "f1": f1[best],
        "threshold": best,
        "f1_at": f1,
    }


def begin(cfg: LoopConfig, output: str | Path, torch: Any) -> Path:
    """The run's folder, created, with the thread count and the seed set (before the net)."""
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    return out


def place(net: Any, cfg: LoopConfig, torch: Any) -> tuple[str, Any, str]:
    """``net`` on its device in train mode; the device, the autocast factory and its dtype."""
    from lingua_core.models.devices import resolve_device

    dev = resolve_device(cfg.device)
    autocast, run_dtype = autocast_for(dev, cfg.dtype, torch)
    net.to(dev).train()
    return dev, autocast, run_dtype


def autocast_for(dev: str, dtype: str, torch: Any) -> tuple[Any, str]:
    """A context factory for mixed precision, and the dtype it runs.

    bf16 on CUDA, and on a CPU only where a bf16 matmul measures faster than fp32 (never by
    assumption: AVX2 CPUs run it far slower).
    """
    import contextlib

    from lingua_core.models.devices import cpu_bf16_speedup

    use_bf16 = dtype == "bfloat16" or (
        dtype == "auto" and (dev.startswith("cuda") or (dev == "cpu" and cpu_bf16_speedup() >= 1.3))
    )
    if not use_bf16:
        return contextlib.nullcontext, "float32"
    kind = "cuda" if dev.startswith("cuda") else "cpu"
    return (lambda: torch.autocast(kind, dtype=torch.bfloat16)), "bfloat16"


def _progress(total: int, initial: int, enabled: bool, name: str) -> Any:
    if not enabled:
        return None
    tqdm = require("tqdm")
    return tqdm.tqdm(total=total, initial=initial, desc=f"training {name}", unit="step")


def fit(
    net: Any,
    train_ex: Sequence[Example],
    val_ex: Sequence[Example],
    *,
    out: Path,
    cfg: LoopConfig,
    dev: str,
    autocast: Any,
    pad: int,
    config_key: dict[str, Any],
    save_model: Callable[[Path, dict[str, Any]], None],
    relevance_weight: float = 0.0,
    name: str = "model",
) -> TrainResult:
    """Train ``net`` (already on ``dev``, in train mode) on ``train_ex``; resume when possible.

    Args:
        net: The network: ``net(ids, mask, types) -> (keep_logits, relevance_logits)``.
        train_ex: Training rows.
        val_ex: Validation rows (none: the training loss decides).
        out: The run's folder.
        cfg: Batches, schedule, evaluation, patience, seed, dtype, progress.
        dev: The device ``net`` is on.
        autocast: A context factory for mixed precision (:func:`autocast_for`).
        pad: The tokenizer's padding id.
        config_key: What must match for ``out``'s checkpoint to be resumed.
        save_model: Writes the loadable model into a folder, with the metrics' ``threshold``,
            ``validation_f1`` and ``steps``.
        relevance_weight: Weight of the relevance loss (0: keep labels only).
        name: What is trained, for the log and the progress bar.

    Raises:
        ValueError: When ``out`` holds the checkpoint of another run.
    """
    torch = require("torch")
    per_epoch = math.ceil(len(train_ex) / cfg.batch_size)
    total = cfg.max_steps or max(1, math.ceil(per_epoch * cfg.epochs))
    params = [p for p in net.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": cfg.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=cfg.learning_rate,
    )
    warm = max(1, int(cfg.warmup * total))

    def schedule(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total - step) / max(1, total - warm))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    state: dict[str, Any] = {
        "step": 0,
        "best_f1": -1.0,
        "threshold": 0.5,
        "bad_evals": 0,
        "seconds": 0.0,
    }
    ckpt = out / "checkpoint"
    history_path = out / "history.jsonl"
    history: list[dict[str, Any]] = []
    if (ckpt / "trainer.json").is_file():
        from safetensors.torch import load_file

        saved = json.loads((ckpt / "trainer.json").read_text(encoding="utf-8"))
        if saved.get("config") != config_key or saved.get("pairs") != len(train_ex):
            msg = (
                f"{ckpt} is the checkpoint of another run (other config or data); "
                "use another output folder or delete it"
            )
            raise ValueError(msg)
        net.load_state_dict(load_file(str(ckpt / "model.safetensors")))
        opt_state = torch.load(ckpt / "optimizer.pt", weights_only=True)
        opt.load_state_dict(opt_state["optimizer"])
        sched.load_state_dict(opt_state["scheduler"])
        state.update(saved["state"])
        if history_path.is_file():
            history = [json.loads(x) for x in history_path.read_text().splitlines() if x]
        logger.info("resuming %s training at step %d of %d", name, state["step"], total)

    def save_best(metrics: dict[str, Any]) -> None:
        meta = {
            "threshold": metrics["threshold"],
            "validation_f1": metrics["f1"],
            "steps": state["step"],
        }
        save_model(out / "model.tmp", meta)
        import shutil

        if (out / "model").exists():
            shutil.rmtree(out / "model")
        (out / "model.tmp").rename(out / "model")

    def save_checkpoint() -> None:
        from safetensors.torch import save_file

        tmp = out / "checkpoint.tmp"
        tmp.mkdir(exist_ok=True)
        save_file(
            {k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp / "model.safetensors")
        )
        torch.save(
            {"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp / "optimizer.pt"
        )
        info = {"config": config_key, "pairs": len(train_ex), "state": state}
        (tmp / "trainer.json").write_text(json.dumps(info), encoding="utf-8")
        import shutil

        if ckpt.exists():
            shutil.rmtree(ckpt)
        tmp.rename(ckpt)

    bar = _progress(total, int(state["step"]), cfg.progress, name)
    running: list[float] = []
    start = time.perf_counter() - float(state["seconds"])
    stop = False
    while int(state["step"]) < total and not stop:
        step = int(state["step"])
        epoch, within = divmod(step, per_epoch)
        order = batches(len(train_ex), train_ex, cfg.batch_size, cfg.seed, epoch)
        for idx in order[within:]:
            batch = {
                k: v.to(dev) for k, v in collate([train_ex[i] for i in idx], pad, torch).items()
            }
            with autocast():
                loss, _, _ = _loss(net, batch, relevance_weight, torch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            running.append(float(loss.detach()))
            state["step"] = step = step + 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{np.mean(running[-50:]):.4f}")
            if step % cfg.eval_every == 0 or step >= total:
                metrics: dict[str, Any] = (
                    _evaluate(net, val_ex, cfg, relevance_weight, torch, dev, pad, autocast)
                    if val_ex
                    else {
                        "val_loss": float("nan"),
                        "f1": -float(np.mean(running)),
                        "threshold": 0.5,
                        "f1_at": {},
                    }
                )
                state["seconds"] = time.perf_counter() - start
                row = {
                    "step": step,
                    "train_loss": float(np.mean(running)) if running else None,
                    **{k: v for k, v in metrics.items() if k != "f1_at"},
                    "f1_at": {str(k): v for k, v in metrics["f1_at"].items()},
                    "lr": sched.get_last_lr()[0],
                    "seconds": round(state["seconds"], 1),
                }
                running = []
                history.append(row)
                with history_path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")
                logger.info(
                    "%s step %d: val loss %.4f, unit F1 %.4f at %.2f",
                    name,
                    step,
                    metrics["val_loss"],
                    metrics["f1"],
                    metrics["threshold"],
                )
                if metrics["f1"] > state["best_f1"]:
                    state.update(best_f1=metrics["f1"], threshold=metrics["threshold"], bad_evals=0)
                    save_best(metrics)
                else:
                    state["bad_evals"] = int(state["bad_evals"]) + 1
                    if int(state["bad_evals"]) >= cfg.patience:
                        logger.info(
                            "early stop: no better validation F1 in %d evaluations", cfg.patience
                        )
                        stop = True
                save_checkpoint()
            if step >= total or stop:
                break
    if bar is not None:
        bar.close()
    return TrainResult(
        out / "model",
        float(state["best_f1"]),
        float(state["threshold"]),
        int(state["step"]),
        float(state["seconds"]),
        history,
    )
