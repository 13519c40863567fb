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
"$REF_VENV/bin/python" - "$REF_MODEL" <<'PY'
import sys
from transformers import AutoModelForCausalLM, AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[1])
model = AutoModelForCausalLM.from_pretrained(sys.argv[1])
ids = tok("The capital of France is", return_tensors="pt").input_ids
out = model.generate(ids, attention_mask=ids.new_ones(ids.shape), max_new_tokens=3, do_sample=False)
assert "Paris" in tok.decode(out[0]), tok.decode(out[0])
PY
echo "REF_PYTHON=$REF_VENV/bin/python"
echo "REF_MODEL=$REF_MODEL"
