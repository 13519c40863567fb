"""What a newcomer meets first, before and after issue 25, in one run (two source trees).

Each part runs in a subprocess per tree (``--before DIR`` is a folder holding the previous
``lingua_core``, ``langchain_lingua`` and ``llamaindex_lingua``, e.g. symlinks into a
``git worktree`` of the previous commit; the current tree is this checkout):

- ``examples``: the two-sentence example and the README quickstart's output, and for every
  method with its defaults the output words that are not whole words of the input (numbers-heavy
  English and Chinese).
- ``stored``: ``LinguaDocumentTransformer(mode="score")`` then ``LinguaCompressor``, both with
  defaults: warnings logged, lingua metadata bytes per output document, and the length of a
  prompt that formats documents with their metadata, against the uncompressed prompt.
- ``noquery``: the default with and without a query on one 30,000-word text (first call, model
  loads included), each in its own process: seconds and peak RSS.
- ``noquery_survival``: the default without a query at rate 0.33: answer survival on NQ gold
  passages 500-699 alone, SQuAD articles 12-13 (each question's paragraph alone) and NQ
  20-passage contexts 500-539 (budgets in words).
- ``llmlingua2``: seconds until ``llmlingua2`` fails with no model and no network.
- ``survival``: the default's answer survival, mean achieved rate and worst overshoot of the
  budget at rates 0.33 and 0.1 on NQ (questions 500-699, 20 passages), HotpotQA + MuSiQue
  (records 50-99) and SQuAD same-article (articles 12-13, 200 questions, 10 paragraphs of one
  article each); budgets in words.

    python benchmarks/first_contact.py --before /tmp/before_path          # every part
    python benchmarks/first_contact.py --before /tmp/before_path --parts survival

Writes ``benchmarks/results/first_contact.json`` and ``first_contact.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import nq_gold, squad_articles

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
NQ = DATA / "nq-open-oracle.jsonl.gz"
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(DATA / "tiktoken"))

PARTS = ("examples", "stored", "noquery", "noquery_survival", "llmlingua2", "survival")
RATES = (0.33, 0.1)
TWO = "Beijing was formerly called Peking. Shanghai is big."
TWO_Q = "old name of Beijing"
QUICK_DOCS = [
    "Shanghai is the most populous city proper in China and a global centre of finance.",
    "Beijing, formerly romanized as Peking, is the capital of China. It is the world's most "
    "populous national capital city and China's second largest city after Shanghai.",
    "Guangzhou, previously known as Canton, is the capital of Guangdong province.",
]
QUICK_Q = "What was Beijing called?"
NUMBERS = (
    "Renhe Commercial Holdings owns 75% of the mall, which opened on May 14, 1787 according to "
    "the Constitutional Convention records; revenue rose 12.5% to $3,450.75 million in 2019, "
    "and the ratio fell from -0.25 to 1:3 while 1,234,567 visitors came."
)
CJK = "北京，旧称北平，是中华人民共和国的首都。上海是中国人口最多的城市，也是全球金融中心。"
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
WORD_RE = re.compile(rf"[{_CJK}]+|[-+$€£]?[^\W_{_CJK}]+(?:[.,:'’%-][^\W_{_CJK}]+)*%?")


def words(text: str) -> list[str]:
    """Words by a Unicode-aware pattern: CJK runs, and letters/digits with inner . , : ' % -."""
    return WORD_RE.findall(text)


def cut_words(original: str, output: str) -> list[str]:
    """Words of ``output`` that are not whole words of ``original``."""
    have = set(words(original))
    return [w for w in words(output) if w not in have]


def part_examples() -> dict[str, Any]:
    from lingua_core import get_compressor, join_results

    out: dict[str, Any] = {}
    comp = get_compressor()
    out["two_sentences"] = comp.compress([TWO], query=TWO_Q, rate=0.5)[0].text
    res = comp.compress(QUICK_DOCS, query=QUICK_Q, rate=0.25)
    out["quickstart"] = join_results(res)
    out["quickstart_keeps_answer"] = "Peking" in out["quickstart"]
    cut: dict[str, Any] = {}
    for method in (
        "coarse_to_fine",
        "longllmlingua",
        "llmlingua",
        "selective_context",
        "random",
        "naive",
        "sentence_embeddings",
    ):
        c = get_compressor(method)
        row = {}
        for name, text in (("numbers", NUMBERS), ("cjk", CJK)):
            r = c.compress([text], query="How much of the mall does Renhe own?", rate=0.5)[0]
            row[name] = {"cut": cut_words(text, r.text), "rate": round(r.rate, 3)}
        cut[method] = row
    out["cut_words"] = cut
    return out


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.n = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.n += 1


def part_stored() -> dict[str, Any]:
    from langchain_core.documents import Document

    from langchain_lingua import LinguaCompressor, LinguaDocumentTransformer
    from lingua_core.eval.data import nq_multidoc

    ex = nq_multidoc(DATA / "nq-open-oracle.jsonl.gz", [600], k=5)[0]
    docs = [
        Document(page_content=c, metadata={"source": f"doc{i}"}) for i, c in enumerate(ex.contexts)
    ]
    counter = _Count()
    logging.getLogger().addHandler(counter)
    indexed = LinguaDocumentTransformer(mode="score").transform_documents(docs)
    out_docs = LinguaCompressor(rate=0.33).compress_documents(indexed, ex.question)
    logging.getLogger().removeHandler(counter)

    def prompt(ds: list[Any]) -> str:  # the LCEL snippet's prompt: metadata, then the text
        return "\n\n".join(f"{d.metadata}\n{d.page_content}" for d in ds)

    lingua_bytes = [
        len(json.dumps({k: v for k, v in d.metadata.items() if k.startswith("lingua")}))
        for d in out_docs
    ]
    return {
        "warnings": counter.n,
        "indexing_method": indexed[0].metadata["lingua"].get("method"),
        "query_method": out_docs[0].metadata["lingua"].get("method") if out_docs else None,
        "max_lingua_metadata_bytes": max(lingua_bytes, default=0),
        "prompt_chars_uncompressed": len(prompt(docs)),
        "prompt_chars_compressed": len(prompt(out_docs)),
        "text_chars_uncompressed": sum(len(d.page_content) for d in docs),
        "text_chars_compressed": sum(len(d.page_content) for d in out_docs),
    }


def long_text(n_words: int = 30_000) -> str:
    from lingua_core.eval.data import nq_multidoc

    ex = nq_multidoc(DATA / "nq-open-oracle.jsonl.gz", range(700, 760), k=20)
    seen: dict[str, None] = {}
    for e in ex:
        for c in e.contexts:
            seen.setdefault(c.split("\n", 1)[1], None)
    return " ".join(" ".join(seen).split()[:n_words])


def part_noquery_one(query: str | None) -> dict[str, Any]:
    from lingua_core import get_compressor

    text = long_text()
    t0 = time.perf_counter()
    r = get_compressor().compress([text], query=query, rate=0.33)[0]
    return {
        "seconds": round(time.perf_counter() - t0, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rate": round(r.rate, 3),
        "method": r.method,
    }


def part_llmlingua2() -> dict[str, Any]:
    from lingua_core import get_compressor

    t0 = time.perf_counter()
    try:
        get_compressor("llmlingua2").compress(["Some text to compress here."], rate=0.5)
        error = None
    except Exception as e:
        error = f"{type(e).__name__}: {str(e)[:300]}"
    return {"seconds": round(time.perf_counter() - t0, 2), "error": error}


SETS = ROOT / "build" / "first_contact_sets.json"


def write_sets() -> None:
    """The evaluation sets, built once by this tree's loaders (the older tree lacks SQuAD's)."""
    from lingua_core.eval.data import hotpotqa, musique, nq_multidoc, squad_same_article

    sets = {
        "nq": nq_multidoc(DATA / "nq-open-oracle.jsonl.gz", range(500, 700)),
        "multihop": [
            *hotpotqa(DATA / "hotpotqa_distractor.jsonl.gz", range(50, 100)),
            *musique(DATA / "musique_ans_train_sample.jsonl.gz", range(50, 100)),
        ],
        "same_article": squad_same_article(
            DATA / "squad_v1_train_sample.jsonl.gz", range(12, 14), limit=200
        ),
    }
    rows = {
        name: [{"q": e.question, "a": list(e.answers), "c": list(e.contexts)} for e in examples]
        for name, examples in sets.items()
    }
    SETS.parent.mkdir(exist_ok=True)
    SETS.write_text(json.dumps(rows), encoding="utf-8")


def part_survival() -> dict[str, Any]:
    from types import SimpleNamespace

    from lingua_core import get_compressor, join_results
    from lingua_core.eval.metrics import answer_in

    raw = json.loads(SETS.read_text(encoding="utf-8"))
    sets = {
        name: [SimpleNamespace(question=r["q"], answers=r["a"], contexts=r["c"]) for r in rows]
        for name, rows in raw.items()
    }
    comp = get_compressor(token_counter="words")
    out: dict[str, Any] = {}
    for name, examples in sets.items():
        for rate in RATES:
            hits, rates, over = 0, [], 0.0
            t0 = time.perf_counter()
            for ex in examples:
                res = comp.compress(list(ex.contexts), query=ex.question, rate=rate)
                hits += answer_in(join_results(res), ex.answers)
                total = sum(r.original_tokens for r in res)
                kept = sum(r.compressed_tokens for r in res)
                rates.append(kept / total)
                over = max(over, kept / (rate * total))
            out[f"{name}@{rate}"] = {
                "n": len(examples),
                "survival": round(hits / len(examples), 3),
                "mean_rate": round(sum(rates) / len(rates), 4),
                "max_over_budget": round(over, 3),
                "seconds": round(time.perf_counter() - t0, 1),
            }
    return out


def part_noquery_survival() -> dict[str, Any]:
    """The default without a query at rate 0.33 on the evaluation ranges: answer survival."""
    from lingua_core import get_compressor, join_results
    from lingua_core.eval.data import nq_multidoc
    from lingua_core.eval.metrics import answer_in

    gold = [([text], answers) for text, answers in nq_gold(NQ, range(500, 700))]
    squad = [
        ([f"{art['title']}\n{p['context']}"], [x["text"] for x in qa["answers"]])
        for art in squad_articles(DATA / "squad_v1_train_sample.jsonl.gz", range(12, 14))
        for p in art["paragraphs"]
        for qa in p["qas"]
    ]
    multi = [(list(e.contexts), list(e.answers)) for e in nq_multidoc(NQ, range(500, 540))]
    comp = get_compressor(token_counter="words")
    out: dict[str, Any] = {}
    for name, items in (("nq_gold", gold), ("squad_questions", squad), ("nq20", multi)):
        t0 = time.perf_counter()
        hits = sum(answer_in(join_results(comp.compress(t, rate=0.33)), a) for t, a in items)
        out[name] = {
            "n": len(items),
            "survival": round(hits / len(items), 3),
            "seconds": round(time.perf_counter() - t0, 1),
        }
    return out


def inner(part: str) -> dict[str, Any]:
    logging.basicConfig(level=logging.WARNING)
    if part == "noquery":
        return {"query": part_noquery_one("What is this text about?")}
    if part == "noquery-none":
        return {"none": part_noquery_one(None)}
    fn = {
        "examples": part_examples,
        "stored": part_stored,
        "llmlingua2": part_llmlingua2,
        "survival": part_survival,
        "noquery_survival": part_noquery_survival,
    }[part]
    return fn()


def run_tree(part: str, path: str | None) -> dict[str, Any]:
    env = dict(os.environ)
    if path:
        env["PYTHONPATH"] = os.pathsep.join([path, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if part == "llmlingua2":
        for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
            env.pop(k, None)
    got: dict[str, Any] = {}
    for p in ["noquery", "noquery-none"] if part == "noquery" else [part]:
        proc = subprocess.run(
            [sys.executable, __file__, "--inner", p],
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if proc.returncode:
            got[p] = {"failed": proc.stderr[-2000:]}
            continue
        got.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    return got


def _get(data: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def report(data: dict[str, Any]) -> str:
    """The results as Markdown tables, before beside after."""
    lines = [
        "# First contact, before and after (issue 25)",
        "",
        "Made by `python benchmarks/first_contact.py --before DIR` (each part runs both trees in "
        "one run, one after the other; this 2-core CPU). Raw figures: `first_contact.json`.",
        "",
    ]
    ex = data.get("examples", {})
    if ex:
        lines += ["## The first outputs", "", "| | before | after |", "|---|---|---|"]
        for key, label in (
            ("two_sentences", "two-sentence example, rate 0.5"),
            ("quickstart", "README quickstart, rate 0.25"),
        ):
            lines.append(f"| {label} | {_get(ex, 'before', key)!r} | {_get(ex, 'after', key)!r} |")
        lines += [
            "",
            "Words of the output that are not whole words of the input, defaults, "
            "rate 0.5 (numbers-heavy English / Chinese), before → after:",
            "",
        ]
        for m, row in (_get(ex, "after", "cut_words") or {}).items():
            old = _get(ex, "before", "cut_words", m) or {}
            cells = []
            for kind in ("numbers", "cjk"):
                o, n = old.get(kind, {}), row.get(kind, {})
                cells.append(
                    f"{len(o.get('cut', []))} (rate {o.get('rate')}) → "
                    f"{len(n.get('cut', []))} (rate {n.get('rate')})"
                )
            lines.append(f"- `{m}`: numbers {cells[0]}; CJK {cells[1]}")
        lines.append("")
    rows = [
        ("stored", "warnings", "warnings logged (transformer score mode + compressor, defaults)"),
        ("stored", "indexing_method", "method of the stored scores"),
        ("stored", "max_lingua_metadata_bytes", "most lingua metadata bytes on an output doc"),
        ("stored", "prompt_chars_uncompressed", "prompt with metadata, uncompressed (chars)"),
        ("stored", "prompt_chars_compressed", "prompt with metadata, compressed at 0.33 (chars)"),
        ("llmlingua2", "seconds", "llmlingua2 with no model and no network: seconds to fail"),
    ]
    lines += ["## Stored scores, offline failure", "", "| | before | after |", "|---|---|---|"]
    for part, key, label in rows:
        lines.append(
            f"| {label} | {_get(data, part, 'before', key)} | {_get(data, part, 'after', key)} |"
        )
    lines += [
        "",
        "## The default with and without a query, one 30,000-word text, rate 0.33",
        "",
        "| | before | after |",
        "|---|---|---|",
    ]
    for which in ("query", "none"):
        for key in ("seconds", "peak_rss_mb"):
            lines.append(
                f"| {'no query' if which == 'none' else 'with a query'}: {key} | "
                f"{_get(data, 'noquery', 'before', which, key)} | "
                f"{_get(data, 'noquery', 'after', which, key)} |"
            )
    lines += [
        "",
        "## Without a query: answer survival at rate 0.33 (evaluation ranges)",
        "",
        "| set | n | before (Selective Context) | after (leading sentences) |",
        "|---|---|---|---|",
    ]
    for name, row in (_get(data, "noquery_survival", "after") or {}).items():
        old = _get(data, "noquery_survival", "before", name) or {}
        lines.append(
            f"| {name} | {row.get('n')} | {old.get('survival')} ({old.get('seconds')} s)"
            f" | {row.get('survival')} ({row.get('seconds')} s) |"
        )
    lines += [
        "",
        "## With a query: answer survival, mean achieved rate, worst overshoot",
        "",
        "Budgets in words; overshoot = kept words / (rate x words), the worst example.",
        "",
        "| set @ rate | n | survival before → after | mean rate before → after | "
        "worst overshoot before → after |",
        "|---|---|---|---|---|",
    ]
    for key, row in (_get(data, "survival", "after") or {}).items():
        old = _get(data, "survival", "before", key) or {}
        lines.append(
            f"| {key} | {row.get('n')} | {old.get('survival')} → {row.get('survival')} "
            f"| {old.get('mean_rate')} → {row.get('mean_rate')} | "
            f"{old.get('max_over_budget')} → {row.get('max_over_budget')} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--before", help="folder holding the previous lingua_core (and adapters)")
    ap.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    ap.add_argument("--inner", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=RESULTS / "first_contact.json")
    ap.add_argument("--report", action="store_true", help="only rewrite the .md from the .json")
    args = ap.parse_args()
    if args.report:
        args.out.with_suffix(".md").write_text(report(json.loads(args.out.read_text())))
        return
    if args.inner:
        print(json.dumps(inner(args.inner), ensure_ascii=False))
        return
    data: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    if "survival" in args.parts:
        write_sets()
    for part in args.parts:
        data[part] = {}
        for tree, path in (("before", args.before), ("after", None)):
            if tree == "before" and not path:
                continue
            data[part][tree] = run_tree(part, path)
            print(part, tree, json.dumps(data[part][tree], ensure_ascii=False)[:400], flush=True)
        args.out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    args.out.with_suffix(".md").write_text(report(data))


if __name__ == "__main__":
    main()
