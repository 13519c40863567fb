"""``LinguaPostprocessor``: a LlamaIndex node postprocessor backed by a lingua-rag method."""

from __future__ import annotations

from typing import Any

from lingua_core._deps import missing
from lingua_core.frameworks.settings import (
    EVENT_NAME,
    SCORES_KEY,
    STATS_KEY,
    LinguaSettings,
    Outcome,
    asks_to_reorder,
    output_metadata,
    prompt_order,
)

try:
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.events import BaseEvent
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import (
        ImageNode,
        MetadataMode,
        NodeWithScore,
        QueryBundle,
        TextNode,
    )
except ImportError as e:  # the framework is an extra of lingua-rag
    raise missing("llama_index.core") from e

dispatcher = get_dispatcher(__name__)


class LinguaCompressionEvent(BaseEvent):
    """Instrumentation event with one call's stats: token totals, rate, dropped node ids."""

    stats: dict[str, Any]

    @classmethod
    def class_name(cls) -> str:
        """Event name seen by event handlers."""
        return EVENT_NAME


def _compressible(item: NodeWithScore) -> bool:
    node = item.node
    return (
        isinstance(node, TextNode)
        and not isinstance(node, ImageNode)
        and bool(node.get_content(metadata_mode=MetadataMode.NONE).strip())
    )


class LinguaPostprocessor(LinguaSettings, BaseNodePostprocessor):
    """Compress each retrieved node's text with a lingua-rag method.

    Every output node is a copy (same id, relationships and score) whose text is the compressed
    text and whose ``metadata["lingua"]`` holds the stats, hidden from the LLM and the embedder;
    stored scores (``metadata["lingua_scores"]``) are left out of the copy. Nodes come back in
    input order, unless the options ask for a prompt order (``options={"reorder": "sort"}``,
    LongLLMLingua's ``reorder_context``): then the compressed nodes take their slots in that
    order.
    Nodes without text (images, other non-text nodes, empty text) pass through untouched. A node
    that a coarse filter dropped is left out unless ``keep_dropped=True``. Each call runs in an
    instrumentation span and emits a :class:`LinguaCompressionEvent` (token totals, dropped
    node ids). The core compressor (and its model) is built on first use.

    When compression fails, the error propagates by default (``on_error="raise"``). With
    ``on_error="passthrough"`` a warning is logged and every node comes back unchanged (a copy
    with the same text, id, relationships and score) in order, flagged with
    ``metadata["lingua"] = {"error": "<Type>: <message>", "passthrough": True, "method": ...}``
    (hidden from the LLM and the embedder too); the event is still emitted, with ``rate`` 1.0
    and the ``"error"``. Invalid settings are rejected at construction whatever ``on_error``
    says.

    Example:
        >>> postprocessor = LinguaPostprocessor(method="random", rate=0.5)
        >>> nodes = postprocessor.postprocess_nodes(nodes, query_str="q")  # doctest: +SKIP
    """

    @classmethod
    def class_name(cls) -> str:
        """Name used when the component is serialized."""
        return "LinguaPostprocessor"

    def _todo(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None
    ) -> tuple[list[int], tuple[list[str], str | None, list[Any], list[Any]]]:
        """The indices of the nodes to compress, and the arguments of the compression call."""
        query = query_bundle.query_str if query_bundle is not None else None
        todo = [i for i, item in enumerate(nodes) if _compressible(item)]
        return todo, (
            [nodes[i].node.get_content(metadata_mode=MetadataMode.NONE) for i in todo],
            query,
            [nodes[i].node.node_id for i in todo],
            [nodes[i].node.metadata.get(SCORES_KEY) for i in todo],
        )

    @dispatcher.span
    def _postprocess_nodes(
        self,
        nodes: list[NodeWithScore],
        query_bundle: QueryBundle | None = None,
    ) -> list[NodeWithScore]:
        todo, args = self._todo(nodes, query_bundle)
        return self._nodes(nodes, todo, self._compress_or_pass(*args))

    @dispatcher.span
    async def _apostprocess_nodes(
        self,
        nodes: list[NodeWithScore],
        query_bundle: QueryBundle | None = None,
    ) -> list[NodeWithScore]:
        """:meth:`_postprocess_nodes` without blocking the event loop.

        A local model runs in a worker thread; a ``lingua serve`` endpoint (``endpoint=``) is
        called over async HTTP.
        """
        todo, args = self._todo(nodes, query_bundle)
        return self._nodes(nodes, todo, await self._acompress_or_pass(*args))

    def _nodes(
        self, nodes: list[NodeWithScore], todo: list[int], outcome: Outcome
    ) -> list[NodeWithScore]:
        """The output nodes from the compression's outcome, and the event."""
        # The compressed nodes take their slots in the order the method chose for the prompt;
        # nodes with nothing to compress stay where they were.
        ranked = iter([todo[k] for k in prompt_order(outcome, asks_to_reorder(self.options))])
        slot = {i: next(ranked) for i in todo}
        by_index = {
            i: (text, stats, dropped)
            for i, text, stats, dropped in zip(todo, outcome.texts, outcome.stats, outcome.dropped)
        }
        out = []
        for pos, here in enumerate(nodes):
            if pos not in slot:
                out.append(here)  # nothing to compress: as it came
                continue
            i = slot[pos]
            item = nodes[i]
            text, stats, dropped = by_index[i]
            if dropped and not self.keep_dropped:
                continue
            node = item.node.model_copy()
            if not outcome.passthrough:
                node.set_content(text)
            # model_copy is shallow: new containers so the input node is left untouched.
            node.metadata = output_metadata(node.metadata, stats)  # stored scores left out
            hidden = [STATS_KEY]
            for attr in ("excluded_llm_metadata_keys", "excluded_embed_metadata_keys"):
                keys = list(getattr(node, attr))  # neither reaches the LLM or the embedder
                setattr(node, attr, keys + [k for k in hidden if k not in keys])
            out.append(NodeWithScore(node=node, score=item.score))
        dispatcher.event(LinguaCompressionEvent(stats=outcome.call))
        return out
