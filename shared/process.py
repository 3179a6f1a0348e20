"""The shell of every long-running process: arguments, settings or exit 2, signals, the loop.

The mailer, the subscriptions worker and the bounces process differ only in what they serve;
the HTTP apps share the "settings from the environment or exit 2" step through ``from_env``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, Protocol, TypeVar

from shared.errors import SettingsError
from shared.logging import configure_logging
from shared.settings import Settings

OptionsT = TypeVar("OptionsT")  # a process's own options, next to the shared settings
T = TypeVar("T")

Serve = Callable[[Settings, OptionsT, asyncio.Event, bool], Awaitable[None]]


def load_or_exit(program: str, load: Callable[[], T]) -> T:
    """``load()``, or (on a SettingsError) one line on stderr and exit status 2."""
    try:
        return load()
    except SettingsError as exc:
        print(f"{program}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


# The collector's young-generation threshold in a serving process (Python's default: 700).
YOUNG_GENERATION_THRESHOLD: Final = 10_000


class ServedApp(Protocol):
    """What ``from_env`` needs of an app: its start-up hooks (Litestar's)."""

    on_startup: list[Any]


AppT = TypeVar("AppT", bound=ServedApp)


def from_env(create_app: Callable[[Settings], AppT]) -> Callable[[], AppT]:
    """An app factory for ``uvicorn --factory``: settings from BREVDUE_* variables, or exit 2;
    the heap settled once the app has started (``settle_heap``)."""

    def create_app_from_env() -> AppT:
        app = create_app(load_or_exit("brevdue", Settings.from_env))
        # Only where an app is served as a process of its own, not where tests create many.
        app.on_startup.append(settle_heap)
        return app

    create_app_from_env.__doc__ = from_env.__doc__
    return create_app_from_env


def settle_heap() -> None:
    """Set the collector up for a process that serves requests from now on.

    What is alive once the app has started (modules, the app, its templates, pools and
    caches) lives as long as the process: frozen out of the collector's sight, a full
    collection walks only what requests allocate. And most of a request's objects are freed by
    reference counting; a young collection finds the few cycles each request leaves, so it need
    not run every 700 allocations that outlive their statement. Measured on the subscriptions
    service under load (bench/http, sign-ups): a full collection held the event loop 150 ms
    (its p99 stalls), 16 ms once frozen; young collections ran every ten or so requests at
    about 1 ms each, 6% of its CPU with the full ones; at 10,000, less than 0.2%.
    """
    gc.freeze()
    _young, *older = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *older)


def run_process(
    name: str,
    argv: Sequence[str] | None,
    serve: Serve[OptionsT],
    *,
    options: Callable[[], OptionsT],
    description: str | None = None,
    burst_help: str | None = None,
    fast_loop: bool = False,
) -> None:
    """Parse ``argv``, load settings and ``options`` (or exit 2), then serve until a signal.

    ``serve`` gets an event that SIGTERM or SIGINT sets, and whether ``--burst`` was given
    (only offered when ``burst_help`` says what it does).
    """
    parser = argparse.ArgumentParser(
        prog="brevdue-" + name.replace(" ", "-"), description=description
    )
    if burst_help is not None:
        parser.add_argument("--burst", action="store_true", help=burst_help)
    args = parser.parse_args(argv)
    settings, own = load_or_exit(f"brevdue {name}", lambda: (Settings.from_env(), options()))
    configure_logging(settings)
    main = _until_signal(serve, settings, own, burst=bool(getattr(args, "burst", False)))
    if fast_loop:
        try:
            import uvloop  # a faster event loop where available (Linux, macOS)
        except ImportError:
            pass
        else:
            uvloop.run(main)
            return
    asyncio.run(main)


async def _until_signal(
    serve: Serve[OptionsT], settings: Settings, options: OptionsT, *, burst: bool
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await serve(settings, options, stop, burst)
