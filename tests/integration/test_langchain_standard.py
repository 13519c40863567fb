"""LangChain's standard test suites (``langchain-tests``) on the local models the demo uses.

``LocalEmbeddings`` and ``LocalChatModel`` are LangChain components; these suites check that they
behave as LangChain expects of any embeddings or chat model (init, sync and async calls, batching,
streaming, stop sequences, conversations, model overrides). Features the small local reader does
not have (tools, structured output, images, PDFs, audio, usage metadata) are declared off, so the
suites skip those tests rather than fail them.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import (
    ChatModelIntegrationTests,
    EmbeddingsIntegrationTests,
)
from langchain_tests.unit_tests import ChatModelUnitTests, EmbeddingsUnitTests

from langchain_lingua import LocalChatModel, LocalEmbeddings

pytestmark = pytest.mark.integration


class TestLocalEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[LocalEmbeddings]:
        return LocalEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {}


class TestLocalEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[LocalEmbeddings]:
        return LocalEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {}


class _ChatSettings:
    @property
    def chat_model_class(self) -> type[LocalChatModel]:
        return LocalChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"max_new_tokens": 16}

    @property
    def has_tool_calling(self) -> bool:
        return False

    @property
    def has_structured_output(self) -> bool:
        return False

    @property
    def returns_usage_metadata(self) -> bool:
        return False

    @property
    def model_override_value(self) -> str:
        from lingua_core.models import EMBEDDED_CAUSAL_LM

        return EMBEDDED_CAUSAL_LM  # the only causal LM offline: the alias stands in for another


class TestLocalChatModelUnit(_ChatSettings, ChatModelUnitTests):
    pass


class TestLocalChatModelIntegration(_ChatSettings, ChatModelIntegrationTests):
    pass
