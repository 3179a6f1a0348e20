"""Where a campaign's messages are made: on the event loop while its template is cheap in CPU
time, in the render threads once one message costs more than SLOW_RENDER."""

from __future__ import annotations

import dataclasses
import gc
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from services.mailer import mime
from services.mailer.campaign_cache import compile_campaign
from services.mailer.campaign_delivery import (
    SLOW_RENDER,
    SLOW_RENDERS_TO_MOVE,
    VERY_SLOW_RENDER,
    render_on_loop,
)
from services.mailer.campaign_types import CampaignSource, Recipient
from services.mailer.runtime import MailerRuntime
from shared.campaign_templates import CampaignTemplateError
from shared.settings import Settings
from tests.mailer.support import FAST

pytestmark = pytest.mark.timing

CHEAP = CampaignSource(
    id=31,
    subject="Nyt, {{ subscriber.name }}",
    body="<p>Hej {{ subscriber.name }}</p>" + "<p>Koncerter i Malmö og København.</p>" * 40,
    body_text=None,
    from_address="Kultur <nyt@kultur.test>",
    list_slugs=("kultur",),
    updated_at=None,
    list_ids=(1,),
)
# About five hundred macro calls per message: several times SLOW_RENDER of CPU time, and well
# under VERY_SLOW_RENDER even on a slow host.
SLOW = CampaignSource(
    id=32,
    subject="Nyt",
    body=(
        "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "<p>Hej {{ subscriber.name }}</p>{{ f(9) }}"
    ),
    body_text=None,
    from_address="Kultur <nyt@kultur.test>",
    list_slugs=("kultur",),
    updated_at=None,
    list_ids=(1,),
)
# Stopped by the template limits each time, after a quarter of a second.
HOSTILE = dataclasses.replace(SLOW, id=33, body=SLOW.body.replace("f(9)", "f(30)"))


def _recipient(n: int) -> Recipient:
    return Recipient(
        n, n, f"key{n}", f"r{n}@example.dk", "Åse", "da", mime.campaign_message_id(31, n, "k.test")
    )


def _warm_up(runtime: MailerRuntime) -> None:
    """Render one message of another campaign first: a process's first render pays one-time
    costs (lazy imports, caches) that are no campaign's."""
    other = compile_campaign(dataclasses.replace(CHEAP, id=30), "x@kultur.test")
    render_on_loop(runtime, other, _recipient(0))


WALL_SLOW_RENDERS = 12


class GilHog:
    """A thread that, woken, asks for the GIL and keeps it for tens of milliseconds (one long C
    call): as the database driver's thread does, only longer."""

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stop:
                return
            sum(range(3_000_000))

    def wake(self) -> None:
        """Have it ask for the GIL now."""
        self._wake.set()

    def stop(self) -> None:
        """End the thread."""
        self._stop = True
        self._wake.set()
        self._thread.join()


@pytest.fixture
def gil_hog() -> Iterator[GilHog]:
    """A GilHog, and a GIL handed over after 0.5 ms (5 ms by default) so that it gets it in the
    middle of a render."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    hog = GilHog()
    try:
        yield hog
    finally:
        hog.stop()
        sys.setswitchinterval(interval)


async def test_waits_for_the_gil_are_not_counted_as_a_campaigns_render_cost(
    settings: Settings, gil_hog: GilHog
) -> None:
    runtime = MailerRuntime.start(settings, FAST)
    campaign = compile_campaign(CHEAP, "x@kultur.test")
    try:
        _warm_up(runtime)
        # Whether the hog gets the GIL in the middle of a render depends on when the operating
        # system runs its thread, so render until the wall clock has seen a dozen slow renders.
        # The collector is held off meanwhile: a full collection of this test process's heap
        # is real CPU time in the render it interrupts.
        wall_slow, cpu_slow, n = 0, 0, 0
        gc.disable()
        try:
            while wall_slow < WALL_SLOW_RENDERS and n < 120:
                n += 1
                gil_hog.wake()
                started, cpu_started = time.perf_counter(), time.thread_time()
                rendered = render_on_loop(runtime, campaign, _recipient(n))
                cpu_slow += time.thread_time() - cpu_started > SLOW_RENDER
                wall_slow += time.perf_counter() - started > SLOW_RENDER
                assert not isinstance(rendered, BaseException)
        finally:
            gc.enable()
        if wall_slow < WALL_SLOW_RENDERS:
            pytest.skip(f"the host ran the GIL hog during only {wall_slow} of {n} renders")
        # The wall clock saw slow renders (the waits); the campaign is billed only those this
        # thread's CPU clock, read around each render here, also saw as slow. (Some virtual
        # machines bill a thread for part of its waits: then both counts grow alike.)
        assert runtime.slow_renders.get(campaign.id, 0) <= cpu_slow, (
            runtime.slow_renders,
            cpu_slow,
            wall_slow,
        )
    finally:
        await runtime.close()


async def test_a_campaign_moves_to_the_threads_on_its_third_slow_message(
    settings: Settings,
) -> None:
    runtime = MailerRuntime.start(settings, FAST)
    campaign = compile_campaign(SLOW, "x@kultur.test")
    try:
        _warm_up(runtime)
        # A collection of this process's heap in the middle of a render would bill it tens of
        # milliseconds (and move the campaign at once): the collector is held off.
        gc.disable()
        try:
            for n in range(1, SLOW_RENDERS_TO_MOVE):
                cpu_started = time.thread_time()
                rendered = render_on_loop(runtime, campaign, _recipient(n))
                cpu = time.thread_time() - cpu_started
                assert not isinstance(rendered, BaseException)
                if cpu > VERY_SLOW_RENDER:
                    pytest.skip(f"this host billed one render {cpu * 1000:.0f} ms of CPU time")
                assert campaign.id not in runtime.costly_campaigns
            render_on_loop(runtime, campaign, _recipient(SLOW_RENDERS_TO_MOVE))
        finally:
            gc.enable()
        assert campaign.id in runtime.costly_campaigns
    finally:
        await runtime.close()


async def test_a_campaign_over_its_limits_moves_to_the_threads_at_once(
    settings: Settings,
) -> None:
    runtime = MailerRuntime.start(settings, FAST)
    campaign = compile_campaign(HOSTILE, "x@kultur.test")
    try:
        rendered = render_on_loop(runtime, campaign, _recipient(1))
        assert isinstance(rendered, CampaignTemplateError)
        assert "limit" in str(rendered)
        assert campaign.id in runtime.costly_campaigns
    finally:
        await runtime.close()
