"""Write the embedded SmolLM2 in a folder that transformers 4.44 (the reference env) can read.

Run with the project's venv (transformers 5): it converts the GGUF file once (the usual cached
folder), then copies it to OUT and rewrites what 4.44 cannot read: tokenizer.json merges as
``"a b"`` strings instead of pairs, ``tokenizer_class`` ``PreTrainedTokenizerFast``, the
config's ``dtype`` key as ``torch_dtype``, and ``rope_parameters`` as the top-level ``rope_theta``
(without it 4.44 silently uses 10,000 instead of SmolLM2's 100,000 and every score drifts).

    .venv/bin/python benchmarks/export_smollm2_444.py OUT_FOLDER
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from lingua_core.models import embedded_causal_lm_path


def export(out: Path) -> Path:
    src = embedded_causal_lm_path()
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(src, out)
    tok_path = out / "tokenizer.json"
    tok = json.loads(tok_path.read_text(encoding="utf-8"))
    merges = tok.get("model", {}).get("merges", [])
    tok["model"]["merges"] = [m if isinstance(m, str) else " ".join(m) for m in merges]
    tok_path.write_text(json.dumps(tok, ensure_ascii=False), encoding="utf-8")
    cfg_path = out / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    cfg_path.write_text(json.dumps(cfg, ensure_ascii=False, indent=1), encoding="utf-8")
    mcfg_path = out / "config.json"
    mcfg = json.loads(mcfg_path.read_text(encoding="utf-8"))
    if "dtype" in mcfg and "torch_dtype" not in mcfg:
        mcfg["torch_dtype"] = mcfg.pop("dtype")
    rope = mcfg.pop("rope_parameters", None) or {}
    if "rope_theta" in rope:  # 4.44 reads a top-level rope_theta (default 10,000: wrong here)
        mcfg["rope_theta"] = rope["rope_theta"]
    if rope.get("rope_type", "default") != "default":
        mcfg["rope_scaling"] = rope
    mcfg_path.write_text(json.dumps(mcfg, indent=1), encoding="utf-8")
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(export(Path(sys.argv[1])))
