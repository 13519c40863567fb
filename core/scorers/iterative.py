"""Iterative token-level scoring (LLMLingua): each segment is scored given the *compressed* past.

A text is cut into segments of ``segment`` tokens. Segment ``k`` is scored (surprisal of each of
its tokens) conditioned on a prefix (start token, optionally the question and instruction) and on
the tokens already *kept* from segments ``0..k-1``; the caller's ``decide`` callback then chooses
which tokens of segment ``k`` to keep, and those condition segment ``k + 1``. This is the
reference's ``iterative_compress_prompt``, done for many texts at once:

- all texts of a call run as rows of one batch (right padding, attention mask, explicit position
  ids), so a segment step is one forward for every text instead of one per text;
- the prefix is run once and its KV cache is copied to every row;
- the KV cache is carried across segments: each step feeds only the kept tokens of the previous
  segment (re-run, so that their keys and values see the compressed past, as in the reference) and
  the new segment; positions of dropped tokens stay in the cache as holes the mask hides;
- a text may be scored under several prefixes in lockstep (``variants``: LongLLMLingua's
  contrastive perplexity compares the scores with and without the question); ``decide`` sees the
  scores of every variant and its decision applies to all of them;
- the first segment's scores do not depend on any decision, so they can be served from a cache
  (``first_cache``): sweeping rates over the same texts scores single-segment texts once.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence
from typing import Any

import numpy as np

from lingua_core._deps import require
from lingua_core.scorers._batching import run_in_batches
from lingua_core.scorers.lm import CausalLMScorer

#: ``decide(item, start, end, scores)``: ``scores`` holds, per variant, the surprisal of the
#: item's tokens ``start:end``; returns the boolean keep mask for those tokens.
Decide = Callable[[int, int, int, list[np.ndarray]], np.ndarray]


def iterative_scores(
    scorer: CausalLMScorer,
    items: Sequence[Sequence[int]],
    variants: Sequence[Sequence[int]],
    segment: int,
    decide: Decide,
    *,
    first_cache: MutableMapping[Any, np.ndarray] | None = None,
) -> tuple[list[list[np.ndarray]], list[np.ndarray]]:
    """Score and compress token sequences segment by segment.

    Args:
        scorer: The causal-LM scorer (model, start token, batch cap).
        items: Token ids of each item (a text or a block of one); each must fit the window
            together with the longest variant prefix.
        variants: Prefix token ids of each variant (after the start token), e.g. ``[question]``
            or ``[question, []]`` for contrastive scoring.
        segment: Tokens per segment (``iterative_size``).
        decide: Chooses the kept tokens of each segment (see :data:`Decide`).
        first_cache: Optional mapping from ``(variant prefix, first segment)`` to the first
            segment's scores, read and filled here.

    Returns:
        ``(scores, keeps)``: per item, per variant, the surprisal of every token (nats); and per
        item, the boolean keep mask over its tokens.
    """
    segment = max(1, int(segment))
    start = [] if scorer.start_id is None else [int(scorer.start_id)]
    leads = [start + list(v) for v in variants]
    n_var = len(leads)
    scores = [[np.full(len(ids), np.nan, dtype=np.float32) for _ in leads] for ids in items]
    keeps = [np.zeros(len(ids), dtype=bool) for ids in items]

    def first_key(v: int, i: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return (tuple(leads[v]), tuple(items[i][:segment]))

    # Segment 0 depends on no decision: cached, else one batched surprisal pass for every
    # (item, variant) that misses.
    todo = []
    for i, ids in enumerate(items):
        for v in range(n_var):
            if not ids:
                continue
            hit = None if first_cache is None else first_cache.get(first_key(v, i))
            if hit is not None and hit.shape[0] == min(segment, len(ids)):
                scores[i][v][: hit.shape[0]] = hit
            else:
                todo.append((i, v))
    if todo:
        # Identical (prefix, segment) pairs are scored once, so duplicates score identically.
        unique: dict[Any, tuple[int, int]] = {}
        for i, v in todo:
            unique.setdefault(first_key(v, i), (i, v))
        got = scorer.surprisal_ids(
            [items[i][:segment] for i, _ in unique.values()],
            [variants[v] for _, v in unique.values()],
        )
        value = dict(zip(unique, got))
        for i, v in todo:
            vals = value[first_key(v, i)]
            scores[i][v][: vals.shape[0]] = vals
            if first_cache is not None:
                first_cache[first_key(v, i)] = vals.copy()
    for i, ids in enumerate(items):
        if ids:
            n = min(segment, len(ids))
            keeps[i][:n] = np.asarray(decide(i, 0, n, [x[:n] for x in scores[i]]), dtype=bool)

    # Later segments, conditioned on the kept tokens: batched rows sharing the prefix KV.
    multi = sorted(
        (i for i in range(len(items)) if len(items[i]) > segment), key=lambda i: -len(items[i])
    )
    if not multi:
        return scores, keeps
    row_leads = [x or [scorer.pad_id] for x in leads]  # a cache needs at least one position
    width = max(len(x) for x in row_leads)

    def step(group: Sequence[int]) -> None:
        _run_group(scorer, group, items, row_leads, segment, decide, scores, keeps)

    # Groups run on the model's worker thread, under inference_mode (LoadedModel.run).
    run_in_batches(
        multi,
        lambda i: n_var * (width + min(len(items[i]), 2 * segment)),
        scorer.batch_tokens,
        step,
        scorer.loaded.run,
        bucket=False,
    )
    return scores, keeps


def _run_group(
    scorer: CausalLMScorer,
    group: Sequence[int],
    items: Sequence[Sequence[int]],
    leads: list[list[int]],
    segment: int,
    decide: Decide,
    scores: list[list[np.ndarray]],
    keeps: list[np.ndarray],
) -> None:
    torch = require("torch")
    model = scorer.loaded.model
    device = scorer.loaded.device
    split = scorer.can_split_head()
    head = model.get_output_embeddings() if split else None
    body = model.base_model if split else model
    n_var = len(leads)

    cache_arg = _cache_argument(scorer.loaded.facts, body)

    def forward(ids: Any, mask: Any, pos: Any, cache: Any) -> Any:
        out = body(
            input_ids=ids,
            attention_mask=mask,
            position_ids=pos,
            use_cache=True,
            **{cache_arg: cache},
        )
        return out.last_hidden_state if split else out.logits

    def surprisal(feats: Any, targets: Any) -> np.ndarray:
        functional = torch.nn.functional
        res = []
        for s in range(0, feats.shape[0], scorer.head_chunk):
            f = feats[s : s + scorer.head_chunk]
            logits = (head(f) if head is not None else f).float()
            res.append(
                functional.cross_entropy(
                    logits, targets[s : s + scorer.head_chunk], reduction="none"
                )
            )
        return torch.cat(res).cpu().numpy() if res else np.zeros(0, dtype=np.float32)

    # Prefixes: one padded forward of the distinct variant leads, then one cache row per
    # (item, variant) row.
    from transformers import DynamicCache

    lead_len = [len(x) for x in leads]
    width = max(lead_len)
    lead_ids = torch.full((n_var, width), scorer.pad_id, dtype=torch.long, device=device)
    lead_mask = torch.zeros((n_var, width), dtype=torch.long, device=device)
    for v, x in enumerate(leads):
        lead_ids[v, : len(x)] = torch.tensor(x, dtype=torch.long, device=device)
        lead_mask[v, : len(x)] = 1
    cache = DynamicCache()
    lead_pos = torch.arange(width, device=device).unsqueeze(0).expand(n_var, -1)
    feats = forward(lead_ids, lead_mask, lead_pos, cache)
    last = feats[torch.arange(n_var, device=device), torch.tensor(lead_len, device=device) - 1]

    rows = [(i, v) for i in group for v in range(n_var)]
    row_var = torch.tensor([v for _, v in rows], dtype=torch.long, device=device)
    cache.reorder_cache(row_var)
    mem_mask = lead_mask[row_var]
    last = last[row_var]
    n_valid = torch.tensor([lead_len[v] for _, v in rows], dtype=torch.long, device=device)
    # Segment 0 is decided: its kept tokens are the first to run with the prefix KV.
    pending: dict[int, list[int]] = {
        i: [t for t, kk in zip(items[i][:segment], keeps[i][:segment]) if kk] for i in group
    }
    active = list(range(len(rows)))  # indices into `rows` still in the cache
    k = 1
    while True:
        live = [i for i in group if k * segment < len(items[i])]
        if not live:
            break
        live_set = set(live)
        keep_rows = [r for r in range(len(active)) if rows[active[r]][0] in live_set]
        if len(keep_rows) < len(active):
            idx = torch.tensor(keep_rows, dtype=torch.long, device=device)
            cache.reorder_cache(idx)
            mem_mask, last, n_valid = mem_mask[idx], last[idx], n_valid[idx]
            active = [active[r] for r in keep_rows]
        seg = {i: list(items[i][k * segment : (k + 1) * segment]) for i in live}
        feed = [pending[rows[r][0]] + seg[rows[r][0]] for r in active]
        w = max(len(x) for x in feed)
        if w:
            ids = torch.full((len(active), w), scorer.pad_id, dtype=torch.long, device=device)
            new_mask = torch.zeros((len(active), w), dtype=torch.long, device=device)
            for r, x in enumerate(feed):
                if x:
                    ids[r, : len(x)] = torch.tensor(x, dtype=torch.long, device=device)
                    new_mask[r, : len(x)] = 1
            pos = n_valid.unsqueeze(1) + torch.arange(w, device=device).unsqueeze(0)
            feats = forward(ids, torch.cat([mem_mask, new_mask], dim=1), pos, cache)
            # Predictor of fed token j: the previous position (j = 0: the last committed one).
            pred = torch.cat([last.unsqueeze(1), feats[:, :-1]], dim=1)
            for r in range(len(feed)):
                i, v = rows[active[r]]
                p = len(pending[i])
                n = len(seg[i])
                if n:
                    tgt = ids[r, p : p + n]
                    vals = surprisal(pred[r, p : p + n], tgt)
                    scores[i][v][k * segment : k * segment + n] = vals
            # Commit: the re-run kept tokens become valid context; the new segment's positions
            # stay in the cache as holes until its kept tokens are re-run next step.
            commit = torch.zeros_like(new_mask)
            for r in range(len(active)):
                p = len(pending[rows[active[r]][0]])
                if p:
                    commit[r, :p] = 1
                    last[r] = feats[r, p - 1]
            mem_mask = torch.cat([mem_mask, commit], dim=1)
            n_valid = n_valid + commit.sum(dim=1)
        for i in live:
            s, e = k * segment, k * segment + len(seg[i])
            keep = np.asarray(
                decide(i, s, e, [scores[i][v][s:e] for v in range(n_var)]), dtype=bool
            )
            keeps[i][s:e] = keep
            pending[i] = [t for t, kk in zip(seg[i], keep) if kk]
        k += 1


def _cache_argument(facts: dict[str, Any], body: Any) -> str:
    """The name under which ``body.forward`` takes the KV cache (checked once per model).

    transformers 5.24 renamed ``past_key_values`` to ``cache`` (the old name warns, and goes in
    5.40); older versions only know ``past_key_values``.
    """
    if "cache_argument" not in facts:
        import inspect

        params = inspect.signature(body.forward).parameters
        facts["cache_argument"] = "cache" if "cache" in params else "past_key_values"
    return str(facts["cache_argument"])
