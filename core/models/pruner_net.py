"""The network of lingua-rag's own pruner, and saving and loading its folder (imports torch).

A cross-encoder reads ``[CLS] question [SEP] passage [SEP]`` once; a token head gives every
token a keep logit (sigmoid: the probability that its sentence answers the question) and a
relevance head on the first token gives the passage's relevance logit. The same two outputs are
what every pruner layout is reduced to (:mod:`lingua_core.models.pruners`).

The folder: ``lingua_pruner.json`` (format, version, threshold, window, backbone) and
``model.safetensors`` (the network's weights, keys ``backbone.*``, ``token_head.*``,
``relevance_head.*``). With ``"backbone": null`` the folder is whole (``config.json`` and the
tokenizer beside the weights); with a backbone (``"minilm"``, a folder or a hub id) the weights
are a delta: the backbone is loaded first and the folder's tensors replace its own, the ones
named in ``"omitted"`` (the frozen word embeddings) kept from the backbone. That is how the
embedded pruner ships in 21 MB on top of the embedded MiniLM.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

#: The name of the format file in a lingua-rag pruner folder.
FORMAT_FILE = "lingua_pruner.json"
FORMAT = "lingua-pruner"
FORMAT_VERSION = 1


class PrunerNet(nn.Module):
    """A backbone encoder with a token keep head and a passage relevance head.

    Args:
        backbone: A transformers encoder (``AutoModel``) returning ``last_hidden_state``.
        hidden: Its hidden size.
        dropout: Dropout before the heads (training only).
    """

    def __init__(self, backbone: Any, hidden: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout)
        self.token_head = nn.Linear(hidden, 1)
        self.relevance_head = nn.Linear(hidden, 1)

    def forward(
        self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None
    ) -> tuple[Any, Any]:
        """Keep logits ``[batch, tokens]`` and relevance logits ``[batch]``."""
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        h = self.dropout(self.backbone(**kwargs).last_hidden_state)
        return self.token_head(h).squeeze(-1), self.relevance_head(h[:, 0]).squeeze(-1)

    def predict(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> Any:
        """Keep probabilities ``[batch, tokens]`` and relevance probabilities ``[batch]``."""
        keep, rel = self.forward(input_ids, attention_mask, token_type_ids)
        return torch.sigmoid(keep.float()), torch.sigmoid(rel.float())


def new_pruner(
    backbone_source: str, *, hf_kwargs: Mapping[str, Any] | None = None
) -> tuple[PrunerNet, Any]:
    """A pruner with pretrained backbone weights and fresh heads, and its tokenizer."""
    from lingua_core._deps import require

    transformers = require("transformers")

    kw = dict(hf_kwargs or {})
    backbone = transformers.AutoModel.from_pretrained(backbone_source, use_safetensors=True, **kw)
    tok = transformers.AutoTokenizer.from_pretrained(backbone_source, **kw)
    return PrunerNet(backbone, int(backbone.config.hidden_size)), tok


def read_meta(folder: str | Path) -> dict[str, Any]:
    """The folder's ``lingua_pruner.json``.

    Raises:
        ValueError: For a file of another format or a newer version.
    """
    meta: dict[str, Any] = json.loads((Path(folder) / FORMAT_FILE).read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        msg = f"{folder}/{FORMAT_FILE} is not a {FORMAT} file (format={meta.get('format')!r})"
        raise ValueError(msg)
    if int(meta.get("version", 0)) > FORMAT_VERSION:
        msg = (
            f"{folder} holds a {FORMAT} v{meta['version']} model; this lingua-rag reads up to "
            f"v{FORMAT_VERSION}: upgrade lingua-rag"
        )
        raise ValueError(msg)
    return meta


def save_pruner(
    net: PrunerNet,
    tokenizer: Any,
    folder: str | Path,
    meta: Mapping[str, Any],
    *,
    backbone: str | None = None,
    omit: tuple[str, ...] = (),
    dtype: Any = None,
) -> Path:
    """Write a loadable pruner folder.

    Args:
        net: The network.
        tokenizer: Its tokenizer (written only for a whole folder).
        folder: Where to write.
        meta: Extra fields of ``lingua_pruner.json`` (threshold, max_length, training facts).
        backbone: ``None`` for a whole folder; else the backbone the weights are a delta over
            (``"minilm"``, a folder or a hub id), which the loader loads first.
        omit: With a backbone: prefixes of weights left out (taken from the backbone on load).
        dtype: Store floating tensors in this dtype (e.g. ``torch.float16``); ``None`` as is.
    """
    from safetensors.torch import save_file

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    state = {}
    omitted = []
    for k, v in net.state_dict().items():
        if backbone is not None and any(k.startswith(f"backbone.{p}") for p in omit):
            omitted.append(k)
            continue
        t = v.detach().to("cpu").contiguous()
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        state[k] = t
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    if backbone is None:
        net.backbone.config.save_pretrained(out)
        tokenizer.save_pretrained(out)
    full = {
        **dict(meta),
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "backbone": backbone,
        "omitted": omitted,
    }
    (out / FORMAT_FILE).write_text(json.dumps(full, indent=2) + "\n", encoding="utf-8")
    return out


def load_pruner_folder(
    folder: str | Path, backbone_source: str | None, *, hf_kwargs: Mapping[str, Any] | None = None
) -> tuple[PrunerNet, Any, dict[str, Any]]:
    """Load a lingua-rag pruner folder: network (fp32, eval mode), tokenizer, meta.

    Args:
        folder: The folder.
        backbone_source: Where the backbone loads from when the folder is a delta (already
            resolved to a folder or hub id); ``None`` for a whole folder.
        hf_kwargs: ``from_pretrained`` keywords (offline flags).

    Raises:
        ValueError: When the weights do not fit the backbone (naming the keys).
    """
    from lingua_core._deps import require

    transformers = require("transformers")
    from safetensors.torch import load_file

    folder = Path(folder)
    meta = read_meta(folder)
    kw = dict(hf_kwargs or {})
    base = str(folder) if backbone_source is None else backbone_source
    if backbone_source is None:
        config = transformers.AutoConfig.from_pretrained(base, **kw)
        backbone = transformers.AutoModel.from_config(config)
    else:
        backbone = transformers.AutoModel.from_pretrained(base, use_safetensors=True, **kw)
    tok = transformers.AutoTokenizer.from_pretrained(base, **kw)
    net = PrunerNet(backbone, int(backbone.config.hidden_size))
    state = load_file(str(folder / "model.safetensors"))
    own = net.state_dict()
    state = {k: v.to(own[k].dtype) if k in own else v for k, v in state.items()}
    result = net.load_state_dict(state, strict=False)
    allowed = set(meta.get("omitted") or []) if backbone_source is not None else set()
    missing = [
        k for k in result.missing_keys if k not in allowed and not k.endswith("position_ids")
    ]
    if missing or result.unexpected_keys:
        msg = (
            f"pruner weights in {folder} do not fit backbone {base!r}: missing "
            f"{missing[:5]}, unexpected {list(result.unexpected_keys)[:5]}"
        )
        raise ValueError(msg)
    net.eval()
    return net, tok, meta


def export_delta(
    folder: str | Path,
    out: str | Path,
    *,
    backbone: str,
    backbone_source: str,
    omit: tuple[str, ...] = ("embeddings.word_embeddings",),
    dtype: Any = torch.float16,
    hf_kwargs: Mapping[str, Any] | None = None,
) -> Path:
    """Write a whole pruner folder as a delta over its backbone (what the package ships).

    The omitted weights must equal the backbone's (they were frozen in training), else the
    delta would not rebuild the model.

    Raises:
        ValueError: When an omitted weight differs from the backbone's.
    """
    from lingua_core._deps import require

    transformers = require("transformers")

    net, tok, meta = load_pruner_folder(folder, None, hf_kwargs={"local_files_only": True})
    base = transformers.AutoModel.from_pretrained(
        backbone_source, use_safetensors=True, **dict(hf_kwargs or {})
    )
    base_state = base.state_dict()
    for k, v in net.backbone.state_dict().items():
        if any(k.startswith(p) for p in omit) and not torch.equal(v, base_state[k].to(v.dtype)):
            msg = f"{k} differs from the backbone's: it was trained, so it cannot be omitted"
            raise ValueError(msg)
    keep = {k: v for k, v in meta.items() if k not in ("format", "version", "backbone", "omitted")}
    keep["stored_dtype"] = str(dtype).removeprefix("torch.")
    return save_pruner(net, tok, out, keep, backbone=backbone, omit=omit, dtype=dtype)
