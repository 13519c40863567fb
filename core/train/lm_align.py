"""Distribution alignment of the small LM (``lingua distill align``), the LLMLingua paper's §3.4.

LLMLingua, LongLLMLingua and Selective Context keep the tokens a small causal LM finds
surprising. The small LM stands in for the target LLM, and the closer its distribution is to
the target's, the more its surprisal is the target's. The paper instruction-tunes the small LM on
text the target LLM generated; this module does that: the small LM is fine-tuned on
(prompt, response) pairs, where the response is the target LLM's text (``lingua distill collect
--task respond`` asks a target for them, or bring your own logs), with the loss on the response's
tokens only. Rows are plain text, the prompt, a blank line, the response, after the LM's BOS
token, as the methods score text (no chat template).

By default only LoRA adapters are trained (``peft``; a few MB saved, the base's weights
untouched); ``lora=False`` fine-tunes every weight. The training loop is the one the pruner and
LLMLingua-2 use (:func:`lingua_core.train.loop.fit`), with :class:`NextToken` as its objective:
resumable, early stopping on validation perplexity, the split seeded and by source.

The output ``model/`` folder loads with ``model=`` in ``llmlingua``, ``longllmlingua`` and
``selective_context``: an adapter folder (``adapter_config.json``) is put on its base and merged
when loaded (:func:`lingua_core.models.load_causal_lm`; ``peft`` must be installed).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lingua_core._deps import require
from lingua_core.models.embedded import resolve_model_source
from lingua_core.models.loading import ALIGN_META
from lingua_core.train.examples import pad_id
from lingua_core.train.loop import LoopConfig, TrainResult, begin, fit, place, validate
from lingua_core.train.records import split_by_source

logger = logging.getLogger(__name__)

#: Written beside the weights: the base, the training config, perplexity before and after.
META_FILE = ALIGN_META


@dataclass(frozen=True)
class AlignConfig(LoopConfig):
    """How the small LM is aligned (recorded in ``lingua_align.json``).

    The loop's fields (:class:`~lingua_core.train.loop.LoopConfig`), and: the causal LM it
    starts from (``smollm2``, a folder or a hub id), LoRA or every weight, LoRA's rank, scale and
    target modules, and the row length in tokens.
    """

    base_model: str = "smollm2"
    lora: bool = True
    lora_rank: int = 8
    lora_alpha: int = 16
    lora_targets: str = "all-linear"
    max_length: int = 512
    batch_size: int = 8
    learning_rate: float = 2e-4
    eval_every: int = 50

    def check(self) -> None:
        """Raise ``ValueError`` naming a field outside its range."""
        super().check()
        self.check_ints(lora_rank=1, lora_alpha=1, max_length=16)


@dataclass(frozen=True)
class TargetText:
    """One text of the target LLM: what it was asked (may be empty) and what it wrote."""

    id: str
    source: str
    prompt: str
    response: str


def read_targets(
    path: str | Path, *, prompt_column: str = "prompt", response_column: str = "response"
) -> list[TargetText]:
    """The target LLM's texts in a JSONL file.

    Each line holds a response (``response_column``; ``text`` also serves, as a response
    without a prompt), and optionally its prompt, ``id`` and ``source`` (the unit of the
    train/validation split; the id when absent). ``lingua distill collect --task respond``
    writes this layout.

    Raises:
        ValueError: For a line that is not a JSON object, has no response or a prompt that is not
            a string, naming the line (1-based) and the columns.
    """
    path = Path(path)
    out = []
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as e:
                msg = f"{path}:{line_no}: not JSON ({e})"
                raise ValueError(msg) from None
            if not isinstance(row, dict):
                msg = f"{path}:{line_no}: expected a JSON object, got {type(row).__name__}"
                raise ValueError(msg)
            response = row.get(response_column, row.get("text"))
            if not isinstance(response, str) or not response.strip():
                msg = (
                    f"{path}:{line_no}: no {response_column!r} (or 'text') to train on; "
                    f"a line holds {response_column!r} and optionally {prompt_column!r}, id, source"
                )
                raise ValueError(msg)
            prompt = row.get(prompt_column) or ""
            if not isinstance(prompt, str):
                msg = f"{path}:{line_no}: {prompt_column!r} must be a string, got {prompt!r:.60}"
                raise ValueError(msg)
            rid = str(row.get("id", f"{path.name}:{line_no}"))
            out.append(TargetText(rid, str(row.get("source", rid)), prompt, response))
    return out


@dataclass(frozen=True)
class LMRow:
    """One encoded text: token ids, and the first position whose token is scored."""

    ids: tuple[int, ...]
    scored_from: int


def encode_targets(texts: Sequence[TargetText], tokenizer: Any, max_length: int) -> list[LMRow]:
    """Each text as a row: BOS (else EOS), the prompt and a blank line, the response.

    Only the response's tokens are scored. A row past ``max_length`` loses the start of its
    prompt first (down to half the row), then the end of its response.
    """
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    head = [] if start is None else [int(start)]
    room = max_length - len(head)
    out = []
    for t in texts:
        prompt = []
        if t.prompt:
            prompt = tokenizer(t.prompt + "\n\n", add_special_tokens=False)["input_ids"]
        response = tokenizer(t.response, add_special_tokens=False)["input_ids"]
        reserve = min(len(response), max(room // 2, room - len(prompt)))  # for the response
        keep_prompt = min(len(prompt), room - reserve)
        prompt = prompt[len(prompt) - keep_prompt :]
        response = response[: room - len(prompt)]
        ids = tuple(int(i) for i in (*head, *prompt, *response))
        out.append(LMRow(ids, len(head) + len(prompt)))
    return out


class NextToken:
    """The loop's objective for a causal LM: next-token loss on the scored tokens.

    The score is minus the validation loss (mean negative log-likelihood per scored token), so
    the best model has the lowest validation perplexity.

    Args:
        pad: The padding id (any: padded positions are masked and not scored).
    """

    shown, unit = "perplexity", "perplexity"

    def __init__(self, pad: int) -> None:
        self.pad = pad

    def collate(self, rows: Sequence[LMRow], torch: Any) -> dict[str, Any]:
        """``ids``, ``mask`` and ``labels`` (-100 before a row's scored tokens and on padding)."""
        width = max(len(r.ids) for r in rows)
        ids = torch.full((len(rows), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        labels = torch.full((len(rows), width), -100, dtype=torch.long)
        for i, r in enumerate(rows):
            n = len(r.ids)
            ids[i, :n] = torch.tensor(r.ids)
            mask[i, :n] = 1
            labels[i, r.scored_from : n] = ids[i, r.scored_from : n]
        return {"ids": ids, "mask": mask, "labels": labels}

    def _sum_and_count(self, net: Any, batch: dict[str, Any], torch: Any) -> tuple[Any, Any]:
        logits = net(input_ids=batch["ids"], attention_mask=batch["mask"], use_cache=False).logits
        target = batch["labels"][:, 1:]
        scored = target != -100  # only these positions' vocabulary rows go to float32
        nll = torch.nn.functional.cross_entropy(
            logits[:, :-1][scored].float(), target[scored], reduction="sum"
        )
        return nll, scored.sum()

    def loss(self, net: Any, batch: dict[str, Any], torch: Any) -> Any:
        """Mean negative log-likelihood of the batch's scored tokens."""
        nll, n = self._sum_and_count(net, batch, torch)
        return nll / n.clamp(min=1)

    def evaluate(
        self, net: Any, rows: Sequence[LMRow], batch_size: int, dev: str, torch: Any
    ) -> dict[str, Any]:
        """``score`` (minus ``val_loss``), ``val_loss`` per scored token, ``perplexity``."""
        total, count = 0.0, 0
        for i in range(0, len(rows), batch_size):
            batch = {k: v.to(dev) for k, v in self.collate(rows[i : i + batch_size], torch).items()}
            nll, n = self._sum_and_count(net, batch, torch)
            total, count = total + float(nll), count + int(n)
        loss = total / max(count, 1)
        return {"score": -loss, "val_loss": loss, "perplexity": math.exp(loss), "tokens": count}

    def saved(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """What the saved model records of its best evaluation."""
        return {"validation_perplexity": metrics.get("perplexity")}


def _base(
    source: str, hf_kwargs: dict[str, Any], cfg: AlignConfig, torch: Any
) -> tuple[Any, Any, Any]:
    """The network to train (the LM, or the LM with LoRA adapters), the LM and its tokenizer."""
    transformers = require("transformers")
    tok = transformers.AutoTokenizer.from_pretrained(source, **hf_kwargs)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        source, dtype=torch.float32, use_safetensors=True, **hf_kwargs
    )
    if not cfg.lora:
        return model, model, tok
    peft = require("peft")
    targets: Any = cfg.lora_targets
    if targets != "all-linear":
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    lora = peft.LoraConfig(
        r=cfg.lora_rank,
        lora_alpha=cfg.lora_alpha,
        target_modules=targets,
        lora_dropout=0.0,
        task_type="CAUSAL_LM",
    )
    return peft.get_peft_model(model, lora), model, tok


def align_lm(
    texts: Sequence[TargetText], output: str | Path, config: AlignConfig | None = None
) -> TrainResult:
    """Fine-tune the small causal LM on the target LLM's texts; resume from ``output/checkpoint``.

    Args:
        texts: The target LLM's texts (:func:`read_targets`); split by source here.
        output: The run's folder: ``model/`` (the best model, or its LoRA adapters, loadable
            with ``model=``), ``checkpoint/``, ``history.jsonl``.
        config: Hyper-parameters; defaults put LoRA adapters on the embedded SmolLM2.

    Returns:
        Where the model is, its validation score (minus log perplexity; ``best`` holds the
        perplexity before and after), steps and time.

    Raises:
        ValueError: For an invalid config, no texts, or none left for training by the split.
        ImportError: For ``lora=True`` without ``peft`` (naming the pip command).
    """
    cfg = config or AlignConfig()
    cfg.check()
    if not texts:
        msg = "no target texts to align on"
        raise ValueError(msg)
    torch = require("torch")
    from lingua_core.models.hub import hub_kwargs

    out = begin(cfg, output, torch)
    source = resolve_model_source(cfg.base_model, kind="causal_lm")
    if os.path.isdir(source):  # the adapter records its base: where it is, from anywhere
        source = os.path.abspath(source)
    net, model, tok = _base(source, dict(hub_kwargs(source, None)), cfg, torch)
    dev, autocast, run_dtype = place(net, cfg, torch)
    train, val = split_by_source(texts, cfg.validation, cfg.seed)
    if not train:
        msg = (
            f"no text left to train on: the {len(texts)} texts come from "
            f"{len({t.source for t in texts})} source(s), and validation={cfg.validation} moved "
            "them all to validation (the split is by source); give texts other sources or "
            "lower validation"
        )
        raise ValueError(msg)
    train_rows = encode_targets(train, tok, cfg.max_length)
    val_rows = encode_targets(val, tok, cfg.max_length)
    objective = NextToken(pad_id(tok))
    before = None
    if val_rows:
        before = validate(net, objective, val_rows, cfg, dev, autocast)["perplexity"]
    trained = sum(p.numel() for p in net.parameters() if p.requires_grad)
    logger.info(
        "align data: %d train texts (%d sources), %d validation texts; %.1fM weights trained; "
        "validation perplexity before: %s",
        len(train_rows),
        len({t.source for t in train}),
        len(val_rows),
        trained / 1e6,
        "n/a" if before is None else f"{before:.3f}",
    )
    meta_base = {
        "format": "lingua-align",
        "base_model": cfg.base_model,
        "base_source": source,
        "lora": cfg.lora,
        "perplexity_before": before,
        "training": {
            "config": asdict(cfg),
            "train_texts": len(train_rows),
            "validation_texts": len(val_rows),
            "trained_weights": trained,
            "dtype": run_dtype,
        },
    }

    def save_model(folder: Path, metrics: dict[str, Any]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if cfg.lora:
            # no embedding layers: peft would look the base up on the hub to decide
            net.save_pretrained(folder, safe_serialization=True, save_embedding_layers=False)
            (folder / "README.md").unlink(missing_ok=True)  # peft's empty model card
        else:
            model.save_pretrained(folder, safe_serialization=True)
        tok.save_pretrained(folder)
        meta = {**meta_base, **metrics}
        (folder / META_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")

    result = fit(
        net,
        train_rows,
        val_rows,
        objective=objective,
        out=out,
        cfg=cfg,
        dev=dev,
        autocast=autocast,
        save_model=save_model,
        name="align",
    )
    result.best["perplexity_before"] = before
    return result


def perplexity(
    model: str | Path,
    texts: Sequence[TargetText],
    *,
    max_length: int = 512,
    batch_size: int = 8,
    device: str | None = None,
) -> float:
    """The perplexity of ``model`` (a name, folder or adapter folder) on ``texts``' responses.

    Rows as in training (:func:`encode_targets`); the model loads as the methods load it
    (:func:`lingua_core.models.load_causal_lm`), so an aligned folder is measured as it runs.

    Raises:
        ValueError: For no texts.
    """
    if not texts:
        msg = "no texts to measure perplexity on"
        raise ValueError(msg)
    torch = require("torch")
    from lingua_core.models import load_causal_lm

    loaded = load_causal_lm(str(model), device=device, dtype="float32")
    rows = encode_targets(texts, loaded.tokenizer, max_length)
    pad = pad_id(loaded.tokenizer)
    with torch.inference_mode():
        return float(
            NextToken(pad).evaluate(loaded.model, rows, batch_size, loaded.device, torch)[
                "perplexity"
            ]
        )
