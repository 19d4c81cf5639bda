"""Keep an in-process broker up for people to look at: ``msgbus tutorial N --serve``.

:func:`watch` serves RabbitMQ's management API and the web page on a broker, runs
something on it (a tutorial), then keeps serving until Ctrl-C, so that a learner can see
in a browser what the program left behind: queues, bindings, messages, rates.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from transports.memory import Broker

__all__ = ["watch"]


def watch(broker: Broker, run: Callable[[], int], *, host: str = "127.0.0.1",
          port: int = 15672, stop: threading.Event | None = None) -> int:
    """Serve ``broker`` on ``host:port``, call ``run()``, then serve until Ctrl-C (or until
    ``stop`` is set). Returns what ``run()`` returned."""
    from contrib.management.server import ManagementServer

    stop = stop if stop is not None else threading.Event()
    try:
        server = ManagementServer(broker, host=host, port=port)
        server.__enter__()
    except OSError as error:
        raise SystemExit(f"msgbus: cannot serve the management page on {host}:{port}: "
                         f"{error.strerror or error}") from None
    try:
        print(f"management page and API: {server.url} (user guest, password guest)",
              flush=True)
        code = run()
        # from here Ctrl-C only ends the wait (a KeyboardInterrupt could hit anywhere)
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGINT, lambda number, frame: stop.set())
        try:
            print(f"\nThe broker stays up: open {server.url} to look at it. Ctrl-C stops.",
                  flush=True)
            while not stop.wait(0.5):
                pass
            print("stopped", flush=True)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        return code
    finally:
        server.__exit__(None, None, None)
