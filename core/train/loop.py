"""The training loop every learned model of lingua-rag shares: one loop, two objectives.

An :class:`Objective` says how rows batch, what the loss is and what validation scores:
:class:`~lingua_core.train.examples.TokenLabels` trains keep labels on tokens (a pruner, an
LLMLingua-2 classifier; scored by the keep class's F1 over sentences or words), and
:class:`~lingua_core.train.lm_align.NextToken` a causal LM's next-token loss (distribution
alignment; scored by validation perplexity). The loop itself does the rest once: AdamW with
linear warm-up and decay, gradients clipped to norm 1 after the backward pass, evaluation every
``eval_every`` steps, early stopping after ``patience`` evaluations without a better score, the
best model saved, bf16 autocast on CUDA and on a CPU only where it measures faster.

Everything is resumable: ``output/checkpoint/`` holds the trained weights (frozen ones never
change), the optimizer, the scheduler and the step, written at every evaluation; a run started
again on the same folder, config and data goes on from there (the batch order is a function
of the seed). ``output/model/`` is the best model so far (written by the task's
``save_model``); ``output/history.jsonl`` holds one line per evaluation.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from lingua_core._deps import require
from lingua_core.train.examples import batches

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

    #: Fields that may change between the runs of one training: not in its resume key.
    RUN_ONLY: ClassVar[frozenset[str]] = frozenset(
        {"progress", "threads", "device", "patience", "eval_every", "max_steps", "epochs"}
    )
    #: Fields added after checkpoints were written, left out of the key at these values (so
    #: that those checkpoints still resume).
    ADDED_LATER: ClassVar[dict[str, Any]] = {}

    def resume_key(self) -> dict[str, Any]:
        """What must match for a run's checkpoint to be resumed."""
        key = {k: v for k, v in asdict(self).items() if k not in self.RUN_ONLY}
        for name, value in self.ADDED_LATER.items():
            if key.get(name, value) == value:
                key.pop(name, None)
        return key

    def check_ints(self, **lows: int) -> None:
        """Raise ``ValueError`` naming the first field of ``lows`` that is not an int >= its low."""
        for name, low in lows.items():
            v = getattr(self, name)
            if not isinstance(v, int) or v < low:
                msg = f"{name} must be an int >= {low}, got {v!r}"
                raise ValueError(msg)

    def check(self) -> None:
        """Raise ``ValueError`` naming a field outside its range."""
        self.check_ints(batch_size=1, eval_every=1, patience=1)
        if not self.epochs > 0:
            msg = f"epochs must be > 0, got {self.epochs!r}"
            raise ValueError(msg)
        if self.dtype not in ("auto", "float32", "bfloat16"):
            msg = f"dtype must be one of 'auto', 'float32', 'bfloat16', got {self.dtype!r}"
            raise ValueError(msg)


@dataclass
class TrainResult:
    """What a training run produced.

    ``best_score`` is the objective's validation score of the saved model (a token task's F1,
    a language model's minus log perplexity); ``best`` what the model recorded of that
    evaluation (a token task's ``threshold`` and ``validation_f1``).
    """

    model_dir: Path
    best_score: float
    steps: int
    seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=dict)

    @property
    def best_f1(self) -> float:
        """A token task's validation F1 (its score)."""
        return self.best_score

    @property
    def threshold(self) -> float:
        """A token task's keep threshold (0.5 where validation did not choose one)."""
        return float(self.best.get("threshold", 0.5))


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


class Objective(Protocol):
    """What a model is trained for: how rows batch, the loss, and the validation score.

    :class:`~lingua_core.train.examples.TokenLabels` (keep labels on tokens) and
    :class:`~lingua_core.train.lm_align.NextToken` (a causal LM's next-token loss) are the two.
    """

    #: The metric the log shows (``"f1"``, ``"perplexity"``), and its name there.
    shown: str
    unit: str

    def collate(self, rows: Sequence[Any], torch: Any) -> dict[str, Any]:
        """A padded batch of tensors (on the CPU)."""
        ...

    def loss(self, net: Any, batch: dict[str, Any], torch: Any) -> Any:
        """The batch's training loss (a scalar tensor)."""
        ...

    def evaluate(
        self, net: Any, rows: Sequence[Any], batch_size: int, dev: str, torch: Any
    ) -> dict[str, Any]:
        """Validation metrics: ``score`` (higher is better), ``val_loss`` and the task's own."""
        ...

    def saved(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """What the saved model records of its best evaluation."""
        ...


def validate(
    net: Any, objective: Objective, rows: Sequence[Any], cfg: LoopConfig, dev: str, autocast: Any
) -> dict[str, Any]:
    """``objective``'s validation metrics of ``net`` on ``rows`` (eval mode, no gradients)."""
    torch = require("torch")
    net.eval()
    with torch.inference_mode(), autocast():
        metrics = objective.evaluate(net, rows, cfg.batch_size * 2, dev, torch)
    net.train()
    return metrics


def _trainable(net: Any) -> set[str]:
    return {n for n, p in net.named_parameters() if p.requires_grad}


def fit(
    net: Any,
    train_ex: Sequence[Any],
    val_ex: Sequence[Any],
    *,
    objective: Objective,
    out: Path,
    cfg: LoopConfig,
    dev: str,
    autocast: Any,
    save_model: Callable[[Path, dict[str, Any]], None],
    name: str = "model",
) -> TrainResult:
    """Train ``net`` (already on ``dev``, in train mode) on ``train_ex``; resume when possible.

    Args:
        net: The network, as ``objective`` calls it.
        train_ex: Training rows (each with ``ids``: batches group rows of similar length).
        val_ex: Validation rows (none: the training loss decides).
        objective: The loss and the validation score (:class:`Objective`).
        out: The run's folder.
        cfg: Batches, schedule, evaluation, patience, seed, dtype, progress; its
            :meth:`LoopConfig.resume_key` must match for ``out``'s checkpoint to be resumed.
        dev: The device ``net`` is on.
        autocast: A context factory for mixed precision (:func:`autocast_for`).
        save_model: Writes the loadable model into a folder, with what ``objective.saved``
            keeps of the best evaluation, and ``steps``.
        name: What is trained, for the log and the progress bar.

    Raises:
        ValueError: For no training rows, or when ``out`` holds the checkpoint of another run.
        RuntimeError: When no evaluation ever scored (a diverged, NaN loss): no model saved.
    """
    if not train_ex:
        msg = f"no {name} training rows: nothing to train on"
        raise ValueError(msg)
    torch = require("torch")
    config_key = cfg.resume_key()
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
        "best_score": -math.inf,
        "best": {},
        "bad_evals": 0,
        "seconds": 0.0,
    }
    ckpt = out / "checkpoint"
    history_path = out / "history.jsonl"
    history: list[dict[str, Any]] = []
    # frozen weights never change: a checkpoint holds the trained ones (a LoRA run's few MB)
    trained = _trainable(net)
    if (ckpt / "trainer.json").is_file():
        from safetensors.torch import load_file

        saved = json.loads((ckpt / "trainer.json").read_text(encoding="utf-8"))
        if saved.get("config") != config_key or saved.get("pairs") != len(train_ex):
            msg = (
                f"{ckpt} is the checkpoint of another run (other config or data); "
                "use another output folder or delete it"
            )
            raise ValueError(msg)
        weights = load_file(str(ckpt / "model.safetensors"))
        missing = set(net.state_dict()) - set(weights)
        if missing & trained:
            msg = f"{ckpt} lacks trained weights ({sorted(missing & trained)[:3]}): delete it"
            raise ValueError(msg)
        net.load_state_dict(weights, strict=False)
        opt_state = torch.load(ckpt / "optimizer.pt", weights_only=True)
        opt.load_state_dict(opt_state["optimizer"])
        sched.load_state_dict(opt_state["scheduler"])
        state.update(_old_state(saved["state"]))
        if history_path.is_file():
            history = [json.loads(x) for x in history_path.read_text().splitlines() if x]
        logger.info("resuming %s training at step %d of %d", name, state["step"], total)

    def save_best() -> None:
        save_model(out / "model.tmp", {**state["best"], "steps": state["step"]})
        _swap_in(out / "model.tmp", out / "model")

    def save_checkpoint() -> None:
        from safetensors.torch import save_file

        tmp = out / "checkpoint.tmp"
        tmp.mkdir(exist_ok=True)
        weights = {k: v.contiguous() for k, v in net.state_dict().items() if k in trained}
        save_file(weights, str(tmp / "model.safetensors"))
        torch.save(
            {"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp / "optimizer.pt"
        )
        info = {"config": config_key, "pairs": len(train_ex), "state": state}
        (tmp / "trainer.json").write_text(json.dumps(info), encoding="utf-8")
        _swap_in(tmp, ckpt)

    def evaluate() -> dict[str, Any]:
        if not val_ex:
            return {"score": -float(np.mean(running)), "val_loss": float("nan")}
        return validate(net, objective, val_ex, cfg, dev, autocast)

    bar = _progress(total, int(state["step"]), cfg.progress, name)
    running: list[float] = []
    start = time.perf_counter() - float(state["seconds"])
    stop = False
    while int(state["step"]) < total and not stop:
        step = int(state["step"])
        epoch, within = divmod(step, per_epoch)
        order = batches(len(train_ex), train_ex, cfg.batch_size, cfg.seed, epoch)
        for idx in order[within:]:
            rows = [train_ex[i] for i in idx]
            batch = {k: v.to(dev) for k, v in objective.collate(rows, torch).items()}
            with autocast():
                loss = objective.loss(net, batch, torch)
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
                metrics = evaluate()
                state["seconds"] = time.perf_counter() - start
                row = {
                    "step": step,
                    "train_loss": float(np.mean(running)) if running else None,
                    **metrics,
                    "lr": sched.get_last_lr()[0],
                    "seconds": round(state["seconds"], 1),
                }
                running = []
                history.append(row)
                with history_path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")
                logger.info(
                    "%s step %d: val loss %.4f, %s %.4f",
                    name,
                    step,
                    metrics["val_loss"],
                    objective.unit,
                    metrics.get(objective.shown, metrics["score"]),
                )
                if metrics["score"] > state["best_score"]:
                    kept = objective.saved(metrics)
                    state.update(best_score=metrics["score"], best=kept, bad_evals=0)
                    save_best()
                else:
                    state["bad_evals"] = int(state["bad_evals"]) + 1
                    if int(state["bad_evals"]) >= cfg.patience:
                        logger.info(
                            "early stop: no better validation score in %d evaluations",
                            cfg.patience,
                        )
                        stop = True
                save_checkpoint()
            if step >= total or stop:
                break
    if bar is not None:
        bar.close()
    if not (out / "model").is_dir():
        msg = (
            f"{name} training saved no model: no evaluation scored (a NaN loss: lower "
            f"learning_rate, now {cfg.learning_rate})"
        )
        raise RuntimeError(msg)
    return TrainResult(
        out / "model",
        float(state["best_score"]),
        int(state["step"]),
        float(state["seconds"]),
        history,
        dict(state["best"]),
    )


def _swap_in(tmp: Path, dst: Path) -> None:
    """Replace the folder ``dst`` with the finished folder ``tmp``."""
    import shutil

    if dst.exists():
        shutil.rmtree(dst)
    tmp.rename(dst)


def _old_state(state: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's loop state, from before the loop took objectives (best_f1, threshold)."""
    if "best_f1" in state:
        state = dict(state)
        f1 = state.pop("best_f1")
        threshold = state.pop("threshold", 0.5)
        state.update(best_score=f1, best={"threshold": threshold, "validation_f1": f1})
    return state
