"""Admission control: bounded concurrency, a queue bounded by count and expected wait, deadlines."""

from __future__ import annotations

import asyncio
import time

import pytest

from lingua_core.serve.admission import Admission, Overloaded, retry_after_header


def test_requests_start_up_to_the_limit_then_queue_then_are_refused_with_a_wait():
    async def go():
        adm = Admission(2, 1, 10.0, costs={"m": 0.001})  # 1 ms per character
        a = await adm.acquire("m", 1000)
        b = await adm.acquire("m", 1000)
        queued = asyncio.ensure_future(adm.acquire("m", 1000))
        await asyncio.sleep(0)
        assert len(adm.running) == 2 and len(adm.queue) == 1 and not queued.done()
        with pytest.raises(Overloaded, match="1 queued") as refused:
            await adm.acquire("m", 1000)  # the queue holds 1
        assert refused.value.retry_after > 0
        adm.release(a, seconds=1.0, chars=1000)
        c = await asyncio.wait_for(queued, 1)  # the queued one starts when a slot frees
        assert c in adm.running and len(adm.running) == 2
        adm.release(b)
        adm.release(c)
        assert not adm.running and not adm.queue

    asyncio.run(go())


def test_the_queue_is_bounded_by_expected_wait_so_cheap_requests_queue_where_costly_ones_do_not():
    async def go():
        adm = Admission(1, 256, 0.25, costs={"cheap": 1e-6, "costly": 1e-4})
        first = await adm.acquire("costly", 10_000)  # 1 s of work running
        with pytest.raises(Overloaded, match="expected wait") as e:
            await adm.acquire("costly", 10_000)
        assert 0.9 < e.value.retry_after <= 1.0 and retry_after_header(e.value.retry_after) == "1"
        adm.release(first)
        blocker = await adm.acquire("cheap", 2_000)  # 2 ms running
        # 64 cheap requests of 2,000 characters (2 ms each) queue behind it: 128 ms in all.
        cheap = [asyncio.ensure_future(adm.acquire("cheap", 2_000)) for _ in range(64)]
        await asyncio.sleep(0)
        assert len(adm.queue) == 64 and not any(t.done() for t in cheap)
        adm.release(blocker)
        for t in cheap:
            adm.release(await asyncio.wait_for(t, 1))
        assert not adm.running and not adm.queue

    asyncio.run(go())


def test_a_request_that_cannot_finish_before_its_deadline_is_refused_at_once():
    async def go():
        adm = Admission(1, 8, 10.0, costs={"m": 1e-4})
        running = await adm.acquire("m", 10_000)  # 1 s
        t0 = time.monotonic()
        with pytest.raises(Overloaded, match="deadline"):
            await adm.acquire("m", 10_000, deadline=time.monotonic() + 0.5)
        assert time.monotonic() - t0 < 0.1
        adm.release(running)

    asyncio.run(go())


def test_a_queued_request_whose_deadline_passes_leaves_the_queue():
    async def go():
        adm = Admission(1, 8, 10.0, costs={"m": 1e-9})
        running = await adm.acquire("m", 10)
        with pytest.raises(asyncio.TimeoutError):
            await adm.acquire("m", 10, deadline=time.monotonic() + 0.05)
        assert not adm.queue
        adm.release(running)
        assert not adm.running

    asyncio.run(go())


def test_a_queued_request_whose_client_left_never_takes_a_slot():
    async def go():
        adm = Admission(1, 8, 10.0, costs={"m": 1e-9})
        running = await adm.acquire("m", 10)
        gone = asyncio.ensure_future(adm.acquire("m", 10))
        waiting = asyncio.ensure_future(adm.acquire("m", 10))
        await asyncio.sleep(0)
        gone.cancel()
        await asyncio.gather(gone, return_exceptions=True)
        adm.release(running)
        nxt = await asyncio.wait_for(waiting, 1)
        assert adm.running == {nxt} and not adm.queue

    asyncio.run(go())


def test_costs_follow_measured_requests():
    adm = Admission(1, 1, 1.0, costs={"m": 1e-3}, smoothing=0.5)
    adm.observe("m", 1000, 0.1)  # measured 1e-4 per character
    assert adm.costs["m"] == pytest.approx((0.0, 5.5e-4))
    assert adm.cost("unseen", 100) == pytest.approx(5.5e-2)  # the costliest known, to be safe
    adm.set_cost("f", (0.01, 1e-6))  # a fixed part and a part per character
    assert adm.cost("f", 1000) == pytest.approx(0.011)
    adm.observe("f", 1000, 0.011 + 0.002)
    assert adm.costs["f"] == pytest.approx((0.01, 1e-6 + 0.5 * 2e-6))


@pytest.mark.parametrize(
    ("args", "message"),
    [((0, 1, 1.0), "max_concurrency"), ((1, -1, 1.0), "max_queue"), ((1, 1, -1), "wait")],
)
def test_invalid_limits_name_the_setting(args, message):
    with pytest.raises(ValueError, match=message):
        Admission(*args)
