"""Training a question-aware pruner: one loop, any Hugging Face encoder, CPU or CUDA.

One forward reads ``question + passage`` (:func:`lingua_core.scorers.pruner_inputs.pair_row`);
the token head learns the sentence labels spread to the sentence's tokens (question, special and
padding tokens labelled -100, left out of the loss) and the relevance head whether the passage
has a kept sentence; the loss is their sum (``relevance_weight`` on the second). The split is
seeded and by source document (:func:`lingua_core.train.records.split_by_source`); validation
sentence F1 (a sentence kept when the mean keep probability of its tokens reaches the threshold,
the best of a grid) decides early stopping and the model's default threshold.

Everything resumable: ``output/checkpoint/`` holds the weights, the optimizer, the scheduler and
the step, written every ``eval_every`` steps; a run started again on the same folder and data
goes on from there (the batch order is a function of the seed). ``output/model/`` is the best
model so far, a folder :func:`lingua_core.get_compressor` loads with ``method="pruner"``;
``output/history.jsonl`` holds one line per evaluation (the curves).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lingua_core._deps import require
from lingua_core.models.embedded import resolve_model_source
from lingua_core.train.examples import (
    THRESHOLDS,
    Example,
    batches,
    collate,
    encode_examples,
    sentence_f1,
)
from lingua_core.train.records import PrunerRecord, split_by_source

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrunerTrainConfig:
    """How a pruner is trained (every field recorded in the output's ``lingua_pruner.json``)."""

    base_model: str = "minilm"
    init_from: str | None = None
    max_length: int = 256
    max_question: int = 64
    batch_size: int = 16
    epochs: float = 1.0
    max_steps: int | None = None
    learning_rate: float = 1e-4
    warmup: float = 0.06
    weight_decay: float = 0.01
    relevance_weight: float = 0.5
    freeze_word_embeddings: bool = True
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
        positive = ("max_length", "max_question", "batch_size", "eval_every", "patience")
        for name in positive:
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                msg = f"{name} must be an int >= 1, got {v!r}"
                raise ValueError(msg)
        if self.max_question >= self.max_length - 8:
            msg = f"max_question ({self.max_question}) must leave room in max_length"
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
    net: Any, batch: dict[str, Any], cfg: PrunerTrainConfig, torch: Any
) -> tuple[Any, Any, Any]:
    keep, rel = net(batch["ids"], batch["mask"], batch["types"])
    keep, rel = keep.float(), rel.float()
    labels = batch["labels"]
    scored = labels >= 0
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    token_loss = bce(keep[scored], labels[scored]) if scored.any() else keep.sum() * 0
    rel_loss = bce(rel, batch["relevant"])
    return token_loss + cfg.relevance_weight * rel_loss, keep, rel


def _evaluate(
    net: Any,
    examples: Sequence[Example],
    cfg: PrunerTrainConfig,
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
            loss, keep, _ = _loss(net, batch, cfg, torch)
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


def _autocast_for(dev: str, dtype: str, torch: Any) -> tuple[Any, str]:
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


def _initial_net(cfg: PrunerTrainConfig) -> tuple[Any, Any]:
    """The network a run starts from: ``base_model`` with new heads, or ``init_from``'s pruner.

    Raises:
        ValueError: When ``init_from`` is not a lingua-rag pruner folder.
    """
    from lingua_core.models.hub import hub_kwargs
    from lingua_core.models.pruner_net import new_pruner
    from lingua_core.models.pruners import load_lingua_folder, resolve_pruner_source

    if cfg.init_from is None:
        source = resolve_model_source(cfg.base_model, kind="encoder")
        return new_pruner(source, hf_kwargs=hub_kwargs(source, None))
    folder = Path(resolve_pruner_source(cfg.init_from))
    if not (folder / "lingua_pruner.json").is_file():
        msg = (
            f"init_from must be a lingua-rag pruner folder (with lingua_pruner.json) or "
            f"'lingua-pruner', got {cfg.init_from!r}"
        )
        raise ValueError(msg)
    return load_lingua_folder(folder)


def _progress(total: int, initial: int, enabled: bool) -> Any:
    if not enabled:
        return None
    tqdm = require("tqdm")
    return tqdm.tqdm(total=total, initial=initial, desc="training pruner", unit="step")


def train_pruner(
    records: Sequence[PrunerRecord],
    output: str | Path,
    config: PrunerTrainConfig | None = None,
) -> TrainResult:
    """Train a pruner on labelled records; resume from ``output/checkpoint`` when it is there.

    Args:
        records: Training records (:func:`lingua_core.train.read_records` or the builders);
            split by source into train and validation here.
        output: The run's folder: ``model/`` (the best model, loadable), ``checkpoint/``,
            ``history.jsonl``.
        config: Hyper-parameters; defaults train the embedded MiniLM.

    Returns:
        Where the model is, its validation F1 and threshold, steps and time.

    Raises:
        ValueError: For an invalid config or records without any kept sentence.
    """
    cfg = config or PrunerTrainConfig()
    cfg.check()
    torch = require("torch")
    require("transformers")
    from lingua_core.models.devices import resolve_device
    from lingua_core.models.pruner_net import save_pruner

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    net, tok = _initial_net(cfg)
    dev = resolve_device(cfg.device)
    autocast, run_dtype = _autocast_for(dev, cfg.dtype, torch)
    if cfg.freeze_word_embeddings:
        emb = net.backbone.get_input_embeddings()
        emb.weight.requires_grad_(False)
    net.to(dev).train()
    train, val = split_by_source(records, cfg.validation, cfg.seed)
    t0 = time.perf_counter()
    train_ex = encode_examples(train, tok, cfg.max_length, cfg.max_question)
    val_ex = encode_examples(val, tok, cfg.max_length, cfg.max_question)
    if not any(e.relevant for e in train_ex):
        msg = "the training records have no kept sentence: nothing to learn"
        raise ValueError(msg)
    logger.info(
        "pruner data: %d train pairs (%d sources), %d validation pairs; encoded in %.1f s",
        len(train_ex),
        len({r.source for r in train}),
        len(val_ex),
        time.perf_counter() - t0,
    )
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
        if saved.get("config") != _config_key(cfg) or saved.get("pairs") != len(train_ex):
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
        logger.info("resuming pruner training at step %d of %d", state["step"], total)
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    meta_base = {
        "max_length": cfg.max_length,
        "max_question": cfg.max_question,
        "training": {
            "config": asdict(cfg),
            "train_pairs": len(train_ex),
            "validation_pairs": len(val_ex),
            "dtype": run_dtype,
        },
    }

    def save_best(metrics: dict[str, Any]) -> None:
        meta = {
            **meta_base,
            "threshold": metrics["threshold"],
            "validation_f1": metrics["f1"],
            "steps": state["step"],
        }
        save_pruner(net, tok, out / "model.tmp", meta)
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
        info = {"config": _config_key(cfg), "pairs": len(train_ex), "state": state}
        (tmp / "trainer.json").write_text(json.dumps(info), encoding="utf-8")
        import shutil

        if ckpt.exists():
            shutil.rmtree(ckpt)
        tmp.rename(ckpt)

    bar = _progress(total, int(state["step"]), cfg.progress)
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
                loss, _, _ = _loss(net, batch, cfg, torch)
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
                    _evaluate(net, val_ex, cfg, torch, dev, pad, autocast)
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
                    "step %d: val loss %.4f, sentence F1 %.4f at %.1f",
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


def _config_key(cfg: PrunerTrainConfig) -> dict[str, Any]:
    """The fields that must match for a checkpoint to be resumed."""
    skip = {"progress", "threads", "device", "patience", "eval_every", "max_steps", "epochs"}
    key = {k: v for k, v in asdict(cfg).items() if k not in skip}
    if key["init_from"] is None:  # absent from checkpoints written before the field existed
        del key["init_from"]
    return key
