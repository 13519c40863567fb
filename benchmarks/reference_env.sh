#!/usr/bin/env bash
# Build the reference environment for side-by-side benchmarks of LLMLingua (v1) and LongLLMLingua:
# llmlingua 0.2.2 on transformers 4.44.2 (its LLMLingua-1 path crashes on transformers 5), in its
# own venv, with the embedded SmolLM2 saved in a folder that transformers 4.44 reads.
#
#   bash benchmarks/reference_env.sh            # after `make demo` or `make test` made .venv
#
# Prints the venv's python and the model folder; override them with REF_VENV and REF_MODEL.
set -euo pipefail
cd "$(dirname "$0")/.."
REF_VENV=${REF_VENV:-benchmarks/.ref-venv}
REF_MODEL=${REF_MODEL:-benchmarks/.ref-smollm2-transformers-4.44}
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "run 'make test' (or 'make demo') first: the model export needs the project's venv" >&2
  exit 1
fi
if [ ! -x "$REF_VENV/bin/python" ]; then
  "$PYTHON" -m venv "$REF_VENV"
  "$REF_VENV/bin/python" -m pip install --quiet --upgrade pip
  "$REF_VENV/bin/pip" install --quiet "${TORCH_SPEC:-torch==2.13.0}"  # first: never a CUDA pull
  "$REF_VENV/bin/pip" install --quiet "transformers==4.44.2" "llmlingua==0.2.2"
fi
.venv/bin/python benchmarks/export_smollm2_444.py "$REF_MODEL" >/dev/null
# Both environments must score text identically: compare the mean surprisal of one sentence.
CHECK='
import sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[1])
model = AutoModelForCausalLM.from_pretrained(sys.argv[1], torch_dtype=torch.float32)
ids = torch.tensor([tok("The Eiffel Tower is in Paris, the capital of France.", add_special_tokens=False).input_ids])
with torch.no_grad():
    print(float(model(ids, labels=ids).loss))
'
ours=$(.venv/bin/python -c "$CHECK" "$(.venv/bin/python -c 'from lingua_core.models import embedded_causal_lm_path as p; print(p())')" 2>/dev/null | tail -1)
theirs=$("$REF_VENV/bin/python" -c "$CHECK" "$REF_MODEL" 2>/dev/null | tail -1)
.venv/bin/python -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); assert abs(a - b) < 1e-3, (a, b); print(f'same scores in both environments: {a:.4f} / {b:.4f}')" "$ours" "$theirs"
echo "REF_PYTHON=$REF_VENV/bin/python"
echo "REF_MODEL=$REF_MODEL"
