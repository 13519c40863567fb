"""Fixtures of the training tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import save_tiny_bert


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory, minilm_tokenizer) -> Path:
    """A random-weight 2-layer BERT encoder on the MiniLM WordPiece tokenizer."""
    from transformers import BertModel

    return save_tiny_bert(tmp_path_factory.mktemp("tiny-encoder"), minilm_tokenizer, BertModel)
