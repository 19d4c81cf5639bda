"""``patch()``: run unmodified pika programs on the memory broker."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pika
import pika.adapters
import pika.adapters.blocking_connection

from contrib.pika_compat._connection import BlockingConnection
from transports.memory import Broker, default_broker

__all__ = ["patch"]

_MODULES = (pika, pika.adapters, pika.adapters.blocking_connection)
_lock = threading.Lock()
#: The classes of the patch() contexts now open, oldest first: pika gets the newest one,
#: and its own class back when the last context exits, in whatever order they exit.
_active: list[type] = []
#: pika's own classes, saved when the first context opened.
_originals: list[tuple[Any, Any]] = []


@contextlib.contextmanager
def patch(broker: Broker | None = None) -> Iterator[Broker]:
    """Within this context, ``pika.BlockingConnection(...)`` (also reached as
    ``pika.adapters.BlockingConnection`` and
    ``pika.adapters.blocking_connection.BlockingConnection``) connects to ``broker`` (the
    process's default broker when None), from any thread. Yields the broker; restores
    pika's own class when the last open context exits (contexts may exit in any order;
    while several are open, the newest still open is in effect). Code that imported the
    class *before* entering keeps it."""
    target = broker if broker is not None else default_broker()

    class PatchedBlockingConnection(BlockingConnection):
        __qualname__ = "BlockingConnection"

        def __init__(self, parameters: Any = None, _impl_class: Any = None) -> None:
            super().__init__(parameters, broker=target)

    with _lock:
        if not _active:
            _originals[:] = [(module, module.BlockingConnection) for module in _MODULES]
        _active.append(PatchedBlockingConnection)
        for module in _MODULES:
            module.BlockingConnection = PatchedBlockingConnection
    try:
        yield target
    finally:
        with _lock:
            _active.remove(PatchedBlockingConnection)
            if _active:
                for module in _MODULES:
                    module.BlockingConnection = _active[-1]
            else:
                for module, original in _originals:
                    module.BlockingConnection = original
                _originals.clear()
