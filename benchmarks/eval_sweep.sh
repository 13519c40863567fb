#!/usr/bin/env bash
# The README Results sweep (issue 7): NQ questions 500-699 (0-499 are for tuning), 20 passages,
# every method in cl100k tokens; resumable (rerun to continue). Then: lingua eval report.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/nq-open-oracle.jsonl.gz}
OUT=${OUT:-benchmarks/results/eval_nq.jsonl}
export TIKTOKEN_CACHE_DIR=${TIKTOKEN_CACHE_DIR:-../shared/data/tiktoken}
run() { .venv/bin/lingua eval run --data "$DATA" --token-counter cl100k_base --out "$OUT" "$@"; }
run --questions 500:700 --methods none,random,naive,bm25
run --questions 500:700 --methods selective_context
run --questions 500:600 --methods longllmlingua
run --questions 500:600 --methods llmlingua
.venv/bin/lingua eval report "$OUT" --plots docs/img/eval > "${OUT%.jsonl}.md"
# The position plot: 50 questions with the gold passage first, in the middle (index 10) and last.
POS=${POS:-benchmarks/results/eval_nq_position.jsonl}
.venv/bin/lingua eval run --data "$DATA" --token-counter cl100k_base --out "$POS" \
  --questions 500:550 --position first,middle,last --rates 0.5,0.33,0.2 \
  --methods random,naive,bm25,selective_context,longllmlingua,llmlingua
.venv/bin/lingua eval report "$POS" --plots docs/img/eval/position > "${POS%.jsonl}.md"
