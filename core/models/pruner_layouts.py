"""The networks of the pruner families, rebuilt with lingua-rag's own code (imports torch).

Each layout holds modules under the names its checkpoint's weights use, so that its
``model.safetensors`` loads with ``strict=True`` (a mismatch names the keys), and reduces its
outputs to what the pruner scorer needs: ``predict(ids, mask, types)`` gives every token's keep
probability and each row's relevance score. How each family lays out its heads was read from its
public code (sources in the docs' models page):

- ``provence`` (naver Provence, DeBERTa-v3; XProvence, XLM-R): backbone ``deberta.*`` or
  ``roberta.*``; ``token_classifier`` [2, H] gives the keep logits (softmax, label 1);
  ``classifier`` [n, H] on the pooled first token gives the ranking logit (row 0, unbounded).
  DeBERTa pools with ``pooler.dense`` and the config's ``pooler_hidden_act``; XLM-R with its own
  pooler (``roberta.pooler``, tanh).
- ``open_provence`` (hotchpotch OpenProvence, ModernBERT; Zilliz semantic-highlight, XLM-R, whose
  card says it reuses this code: unverified): ``ranking_model.*`` is a stock
  ``*ForSequenceClassification``; ``pruning_head.classifier`` [2, H] reads the last entry of its
  hidden states (for ModernBERT: before the final norm); relevance ``sigmoid(logit)``.
- ``token_classifier`` (KRLabs verbatim-rag v2 and any 2-label ``*ForTokenClassification``):
  keep = ``1 - softmax(logits)[..., 0]``; no relevance head (a row's relevance is its highest
  keep probability).
- ``lingua``: :class:`lingua_core.models.pruner_net.PrunerNet`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn


class _Head(nn.Module):
    """One ``Linear`` under a given name (``pooler.dense``, ``pruning_head.classifier``)."""

    def __init__(self, name: str, n_in: int, n_out: int) -> None:
        super().__init__()
        self.add_module(name, nn.Linear(n_in, n_out))
        self.name = name

    def forward(self, x: Any) -> Any:
        return getattr(self, self.name)(x)


class ProvenceNet(nn.Module):
    """naver Provence / XProvence: a cross-encoder with a ranking and a token head."""

    def __init__(self, backbone: Any, prefix: str, n_rank: int, own_pooler: bool, act: str) -> None:
        super().__init__()
        hidden = int(backbone.config.hidden_size)
        self.prefix = prefix
        self.config = backbone.config
        self.add_module(prefix, backbone)
        self.own_pooler = own_pooler
        if own_pooler:
            self.pooler = _Head("dense", hidden, hidden)
            from transformers.activations import ACT2FN

            self.act = ACT2FN[act]
        self.classifier = nn.Linear(hidden, n_rank)
        self.token_classifier = nn.Linear(hidden, 2)

    def predict(self, ids: Any, mask: Any, types: Any) -> tuple[Any, Any]:
        """Keep probabilities ``[batch, tokens]`` and relevance scores ``[batch]``."""
        backbone = getattr(self, self.prefix)
        kw: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if getattr(backbone.config, "type_vocab_size", 0) > 1:
            kw["token_type_ids"] = types
        out = backbone(**kw)
        h = out.last_hidden_state
        pooled = self.act(self.pooler(h[:, 0])) if self.own_pooler else out.pooler_output
        rank = self.classifier(pooled)[:, 0]
        keep = torch.softmax(self.token_classifier(h).float(), dim=-1)[..., 1]
        return keep, rank.float()


class OpenProvenceNet(nn.Module):
    """OpenProvence (and Zilliz semantic-highlight): a stock reranker plus a pruning head."""

    def __init__(self, ranking_model: Any) -> None:
        super().__init__()
        self.ranking_model = ranking_model
        self.config = ranking_model.config
        self.pruning_head = _Head("classifier", int(ranking_model.config.hidden_size), 2)

    def predict(self, ids: Any, mask: Any, types: Any) -> tuple[Any, Any]:
        """Keep probabilities ``[batch, tokens]`` and relevance scores ``[batch]``."""
        kw: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if getattr(self.ranking_model.config, "type_vocab_size", 0) > 1:
            kw["token_type_ids"] = types
        out = self.ranking_model(**kw, output_hidden_states=True, return_dict=True)
        keep = torch.softmax(self.pruning_head(out.hidden_states[-1]).float(), dim=-1)[..., 1]
        return keep, torch.sigmoid(out.logits[:, 0].float())


class TokenClassifierNet(nn.Module):
    """A plain token classifier (verbatim-rag): keep = probability of any label but the first."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model
        self.config = model.config

    def predict(self, ids: Any, mask: Any, types: Any) -> tuple[Any, Any]:
        """Keep probabilities ``[batch, tokens]`` and relevance scores ``[batch]``."""
        kw: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if getattr(self.model.config, "type_vocab_size", 0) > 1:
            kw["token_type_ids"] = types
        logits = self.model(**kw).logits.float()
        keep = 1.0 - torch.softmax(logits, dim=-1)[..., 0]
        return keep, (keep * mask).amax(dim=-1)


class LinguaNet(nn.Module):
    """lingua-rag's own pruner, relevance as a probability."""

    def __init__(self, net: Any) -> None:
        super().__init__()
        self.net = net
        self.config = net.backbone.config

    def predict(self, ids: Any, mask: Any, types: Any) -> tuple[Any, Any]:
        """Keep probabilities ``[batch, tokens]`` and relevance scores ``[batch]``."""
        kw = (
            {"token_type_ids": types}
            if getattr(self.net.backbone.config, "type_vocab_size", 0) > 1
            else {}
        )
        keep: Any
        rel: Any
        keep, rel = self.net.predict(ids, mask, **kw)
        return keep, rel


def _config(transformers: Any, raw: Mapping[str, Any]) -> Any:
    fields = dict(raw)
    model_type = fields.pop("model_type")
    return transformers.AutoConfig.for_model(model_type, **fields)


def build(layout: str, raw_config: Mapping[str, Any], state: Mapping[str, Any]) -> nn.Module:
    """The network of ``layout`` with ``state`` loaded (``strict``: every key must fit).

    Args:
        layout: ``provence``, ``open_provence`` or ``token_classifier``.
        raw_config: The checkpoint's ``config.json``.
        state: Its tensors.

    Raises:
        ValueError: When the weights do not fit the layout (naming the keys).
    """
    from lingua_core._deps import require

    transformers = require("transformers")

    if layout == "provence":
        prefix = next(
            k.split(".")[0] for k in state if k.split(".")[0] in ("deberta", "roberta", "bert")
        )
        cfg = _config(transformers, raw_config)
        own_pooler = "pooler.dense.weight" in state
        backbone = transformers.AutoModel.from_config(cfg)
        n_rank = int(state["classifier.weight"].shape[0])
        act = str(getattr(cfg, "pooler_hidden_act", "gelu"))
        net: nn.Module = ProvenceNet(backbone, prefix, n_rank, own_pooler, act)
    elif layout == "open_provence":
        base = dict(raw_config["base_model_config"])
        cfg = _config(transformers, base)
        cfg.num_labels = (
            int(state["ranking_model.classifier.weight"].shape[0])
            if "ranking_model.classifier.weight" in state
            else int(raw_config.get("num_labels", 1))
        )
        net = OpenProvenceNet(transformers.AutoModelForSequenceClassification.from_config(cfg))
        if not any(k.startswith("ranking_model.") for k in state):  # legacy: unprefixed keys
            state = {
                k if k.startswith("pruning_head.") else f"ranking_model.{k}": v
                for k, v in state.items()
            }
    elif layout == "token_classifier":
        cfg = _config(transformers, raw_config)
        net = TokenClassifierNet(transformers.AutoModelForTokenClassification.from_config(cfg))
        state = {f"model.{k}": v for k, v in state.items()}
    else:
        msg = f"unknown pruner layout {layout!r}"
        raise ValueError(msg)
    own = net.state_dict()
    state = {k: v.to(own[k].dtype) if k in own else v for k, v in state.items()}
    result = net.load_state_dict(state, strict=False)
    missing = [
        k for k in result.missing_keys if not k.endswith(("position_ids", "rotary_emb.inv_freq"))
    ]
    tied = {k for k in missing if k.endswith("decoder.weight")}
    missing = [k for k in missing if k not in tied]
    if missing or result.unexpected_keys:
        msg = (
            f"the weights do not fit the {layout} layout: missing {missing[:6]}, unexpected "
            f"{list(result.unexpected_keys)[:6]}"
        )
        raise ValueError(msg)
    return net
