"""The one way a long-running command stops: SIGINT or SIGTERM asks it to, the work finishes
what it holds, and the command logs `stopped` and exits 0.

Only the CLI calls this module; library classes never install signal handlers, they expose
`stop()` or take a stop event (`threading.Event` for thread-based loops, `asyncio.Event` for
asyncio ones). Two shapes, one behaviour:

    with stop_on_signals("sink", stop.set):      # blocking work in the main thread
        run_sink(broker, config, stop)

    run_until_stopped("video", lambda stop: run_video(config, stop))   # asyncio work

Each logs `{"event": "stopping", "command": …, "signal": "SIGTERM"}` on the first signal and
`{"event": "stopped", "command": …}` when the work has returned (exit 0). A second signal while
stopping logs `stop_forced` and raises KeyboardInterrupt in the main thread: the way out when a
clean stop hangs (click prints "Aborted!", exit 1; nothing more is flushed). The previous
handlers are restored on the way out.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from headwater.logs import log_event

T = TypeVar("T")
SIGNALS = (signal.SIGINT, signal.SIGTERM)
logger = logging.getLogger("headwater.cli")


class _Stopper:
    """Calls `stop` on the first signal, raises KeyboardInterrupt on the second."""

    def __init__(self, command: str, stop: Callable[[], object]) -> None:
        self.command = command
        self.stop = stop
        self.signalled = False

    def __call__(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if self.signalled:
            log_event(logger, "stop_forced", logging.WARNING, command=self.command, signal=name)
            raise KeyboardInterrupt
        self.signalled = True
        log_event(logger, "stopping", command=self.command, signal=name)
        self.stop()


@contextmanager
def stop_on_signals(command: str, stop: Callable[[], object]) -> Iterator[None]:
    """SIGINT/SIGTERM call `stop` (once) while the block runs; `stopped` is logged after it."""
    stopper = _Stopper(command, stop)
    previous = {sig: signal.signal(sig, lambda signum, _: stopper(signum)) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    stopped(command)


def run_until_stopped(
    command: str,
    main: Callable[[asyncio.Event], Coroutine[Any, Any, T]],
    *,
    use_uvloop: bool = False,
) -> T:
    """Run `main(stop)` in a new event loop; SIGINT/SIGTERM set `stop` (the loop's own signal
    handling, so the coroutine wakes at once); `stopped` is logged after `main` returns."""

    async def runner() -> T:
        stop = asyncio.Event()
        stopper = _Stopper(command, stop.set)
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            loop.add_signal_handler(sig, stopper, sig)
        try:
            return await main(stop)
        finally:
            for sig in SIGNALS:
                loop.remove_signal_handler(sig)

    if use_uvloop:
        import uvloop

        result = uvloop.run(runner())
    else:
        result = asyncio.run(runner())
    stopped(command)
    return result


def stopped(command: str) -> None:
    """Log that `command` stopped cleanly; for servers that handle the signals themselves
    (granian under `headwater collect`) and for the helpers above."""
    log_event(logger, "stopped", command=command)
