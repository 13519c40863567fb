"""Distribution alignment of the small LM, end to end, offline: SmolLM2 + LoRA on GSM8K solutions.

LLMLingua's reasoning setting compresses GSM8K chain-of-thought demonstrations; alignment
fine-tunes the small LM on the target LLM's texts. No target LLM is reachable here, so the
"target texts" are GSM8K's worked solutions (human-written, in the format a GSM8K few-shot
prompt makes a target LLM write): the figures say what alignment does to the small LM and to
llmlingua's decisions on text of the aligned distribution, not that a given target is matched.

Ranges (gsm8k_train.jsonl.gz, by question): training = questions 0-699 (inside them, the
validation texts that pick the best step are a seeded 5% of questions); test = questions
800-999 (never seen in training or validation). 700-799 are not used. No hyper-parameter was
tuned: LoRA rank 8 on every linear layer, lr 2e-4, batch 8, one epoch.

Measured on the test questions, the base SmolLM2 and the aligned one:
- the perplexity of the solutions given their question (``lingua_core.train.lm_align.perplexity``);
- ``llmlingua`` at ``--rate`` on each solution alone: the share of words (whitespace) whose
  keep/drop decision is the same with and without alignment, the share of the solution's
  numbers kept (a number is kept when all its characters are), and whether the final answer
  (after ``####``) is kept;
- on the first 60 test solutions, each alone, the small LM's mean surprisal per token of the
  results written again after a calculator annotation (``<<48/2=24>>24``), of the other
  numbers and of the other tokens.

    .venv/bin/python benchmarks/align_gsm8k.py [--steps 88] [--rate 0.5]

Writes ``benchmarks/results/align_gsm8k.json``; the run folder is ``--work`` (default
/tmp/lingua-align-gsm8k, resumed if there).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(DATA / "tiktoken"))
OUT = Path(__file__).resolve().parent / "results" / "align_gsm8k.json"
NUMBER = re.compile(r"\d[\d,.]*\d|\d")


def _kept(spans: tuple[tuple[int, int], ...], start: int, end: int) -> bool:
    return any(s <= start and end <= e for s, e in spans)


def _decisions(text: str, spans: tuple[tuple[int, int], ...]) -> list[bool]:
    """Per whitespace word: kept when any of its characters is in a kept run."""
    return [any(s < m.end() and m.start() < e for s, e in spans) for m in re.finditer(r"\S+", text)]


def _surprisal(model: str, solutions: list[str]) -> dict[str, float]:
    """Mean surprisal (nats per token) of a solution's tokens by kind, the solution alone.

    Kinds: the result written again right after a calculator annotation (the ``24`` of
    ``<<48/2=24>>24``), the other numbers, and the other tokens.
    """
    import numpy as np
    import torch

    from lingua_core.models import load_causal_lm
    from lingua_core.models.loading import clear_models

    loaded = load_causal_lm(model, dtype="float32")
    tok = loaded.tokenizer
    kinds: dict[str, list[float]] = {"repeated_result": [], "other_numbers": [], "other": []}
    for s in solutions:
        enc = tok(s, return_offsets_mapping=True, add_special_tokens=False)
        ids = [tok.bos_token_id, *enc["input_ids"]]
        with torch.inference_mode():
            logits = loaded.model(torch.tensor([ids])).logits[0, :-1].float()
        nll = -torch.log_softmax(logits, -1)[torch.arange(len(ids) - 1), torch.tensor(ids[1:])]
        after = {m.end() for m in re.finditer(r">>", s)}
        numbers = [(m.start(), m.end(), m.start() in after) for m in NUMBER.finditer(s)]
        for (start, _), value in zip(enc["offset_mapping"], nll.tolist()):
            hit = [n for n in numbers if n[0] <= start < n[1]]
            kind = "other" if not hit else "repeated_result" if hit[0][2] else "other_numbers"
            kinds[kind].append(value)
    clear_models()
    return {k: round(float(np.mean(v)), 4) for k, v in kinds.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=88, help="88 = one epoch of 700 at batch 8")
    p.add_argument("--rate", type=float, default=0.5)
    p.add_argument("--test", type=int, default=200, help="test questions, from 800")
    p.add_argument("--work", type=Path, default=Path("/tmp/lingua-align-gsm8k"))
    p.add_argument("--out", type=Path, default=OUT)
    a = p.parse_args()

    import numpy as np

    from lingua_core import get_compressor
    from lingua_core.models.loading import clear_models
    from lingua_core.train.lm_align import AlignConfig, TargetText, align_lm, perplexity

    with gzip.open(DATA / "gsm8k_train.jsonl.gz", "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    texts = [TargetText(str(i), str(i), r["question"], r["answer"]) for i, r in enumerate(rows)]
    train, test = texts[:700], texts[800 : 800 + a.test]
    cfg = AlignConfig(
        max_length=384, max_steps=a.steps, eval_every=22, validation=0.05, progress=False
    )
    t0 = time.perf_counter()
    result = align_lm(train, a.work, cfg)
    train_s = time.perf_counter() - t0
    model = str(result.model_dir)

    out: dict[str, object] = {
        "data": f"gsm8k_train: train 0-699 (5% validation by question), test 800-{799 + len(test)}",
        "config": {k: getattr(cfg, k) for k in ("lora", "lora_rank", "max_length", "batch_size")},
        "steps": result.steps,
        "train_seconds": round(result.seconds, 1),
        "wall_seconds_this_call": round(train_s, 1),
        "validation_perplexity": {
            "before": result.best["perplexity_before"],
            "after": result.best["validation_perplexity"],
        },
        "adapter_bytes": sum(
            f.stat().st_size for f in Path(model).glob("adapter_model.safetensors")
        ),
    }
    ppl = {}
    for name, m in (("base", "smollm2"), ("aligned", model)):
        t = time.perf_counter()
        ppl[name] = perplexity(m, test, max_length=384)
        ppl[f"{name}_seconds"] = round(time.perf_counter() - t, 1)
        clear_models()
    out["test_perplexity"] = ppl
    out["test_perplexity_ratio"] = round(ppl["aligned"] / ppl["base"], 4)

    solutions = [t.response for t in test]
    runs = {}
    for name, m in (("base", None), ("aligned", model)):
        comp = get_compressor("llmlingua", model=m)
        t = time.perf_counter()
        runs[name] = [comp.compress([s], rate=a.rate)[0] for s in solutions]
        runs[f"{name}_seconds"] = round(time.perf_counter() - t, 1)
        clear_models()
    agree, total = 0, 0
    per = {}
    for name in ("base", "aligned"):
        numbers_kept, numbers, final_kept, ratio = 0, 0, 0, []
        for s, r in zip(solutions, runs[name]):
            for m in NUMBER.finditer(s):
                numbers += 1
                numbers_kept += _kept(r.spans, m.start(), m.end())
            final = NUMBER.search(s, s.rindex("####"))
            final_kept += bool(final) and _kept(r.spans, final.start(), final.end())
            ratio.append(r.compressed_tokens / max(r.original_tokens, 1))
        per[name] = {
            "numbers_kept": round(numbers_kept / numbers, 4),
            "final_answer_kept": round(final_kept / len(solutions), 4),
            "kept_token_ratio": round(float(np.mean(ratio)), 4),
            "seconds": runs[f"{name}_seconds"],
        }
    for s, rb, ra in zip(solutions, runs["base"], runs["aligned"]):
        db, da = _decisions(s, rb.spans), _decisions(s, ra.spans)
        agree += sum(x == y for x, y in zip(db, da))
        total += len(db)
    out["llmlingua"] = {
        "rate": a.rate,
        **per,
        "word_decision_agreement_base_vs_aligned": round(agree / total, 4),
        "words": total,
    }
    out["surprisal_nats"] = {
        name: _surprisal(m, [t.response for t in test[:60]])
        for name, m in (("base", "smollm2"), ("aligned", model))
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
