"""``Recorder``: what happened inside a memory broker, for a test to assert on.

::

    def test_bad_orders_are_dead_lettered(msgbus_transport, msgbus_recorder, ...):
        ...
        msgbus_recorder.assert_dead_lettered(queue="orders", reason="rejected")
        assert msgbus_recorder.bodies("delivered", queue="orders") == [b"order-1"]

A failed ``assert_*`` says what it looked for, what was recorded instead, the trace of the
broker's events and its queue table.
"""

from __future__ import annotations

import threading
from typing import Any

from contrib.trace import Tracer
from contrib.views import queues_table
from transports.memory import Broker, BrokerEvent

__all__ = ["Recorder"]

_KINDS = ("published", "routed", "returned", "delivered", "acked", "rejected", "requeued",
          "expired", "dead-lettered", "dropped", "confirmed", "get-empty", "channel-closed")


class Recorder:
    """Keeps every :class:`~transports.memory.BrokerEvent` of ``broker`` between
    :meth:`start` and :meth:`stop` (the ``msgbus_recorder`` fixture does both)."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self._events: list[BrokerEvent] = []
        self._lock = threading.Lock()
        self._tracer = Tracer(broker)

    def start(self) -> None:
        self.broker.add_listener(self._record)

    def stop(self) -> None:
        self.broker.remove_listener(self._record)

    def _record(self, event: BrokerEvent) -> None:
        with self._lock:
            self._events.append(event)

    def clear(self) -> None:
        """Forget what was recorded so far."""
        with self._lock:
            self._events.clear()

    # -- queries ----------------------------------------------------------------------

    @property
    def events(self) -> list[BrokerEvent]:
        """Every event recorded, oldest first (a copy)."""
        with self._lock:
            return list(self._events)

    def select(self, kind: str | None = None, **fields: Any) -> list[BrokerEvent]:
        """Events of ``kind`` (any kind when ``None``) whose fields equal ``fields``:
        ``select("delivered", queue="jobs")``."""
        if kind is not None and kind not in _KINDS:
            raise ValueError(f"unknown event kind {kind!r}: expected one of {', '.join(_KINDS)}")
        for name in fields:
            if name not in BrokerEvent.__dataclass_fields__:
                raise TypeError(f"BrokerEvent has no field {name!r}")
        return [e for e in self.events
                if (kind is None or e.kind == kind)
                and all(getattr(e, name) == value for name, value in fields.items())]

    def bodies(self, kind: str = "published", **fields: Any) -> list[bytes]:
        """The bodies of the selected events (``published`` and ``delivered`` have one)."""
        return [e.body for e in self.select(kind, **fields)]

    def published(self, **fields: Any) -> list[BrokerEvent]:
        return self.select("published", **fields)

    def delivered(self, **fields: Any) -> list[BrokerEvent]:
        return self.select("delivered", **fields)

    def acked(self, **fields: Any) -> list[BrokerEvent]:
        return self.select("acked", **fields)

    def rejected(self, **fields: Any) -> list[BrokerEvent]:
        return self.select("rejected", **fields)

    def dead_lettered(self, **fields: Any) -> list[BrokerEvent]:
        return self.select("dead-lettered", **fields)

    def returned(self, **fields: Any) -> list[BrokerEvent]:
        return self.select("returned", **fields)

    # -- assertions -------------------------------------------------------------------

    def assert_published(self, count: int | None = None, **fields: Any) -> list[BrokerEvent]:
        """At least one (or exactly ``count``) message was published with these fields
        (``exchange=``, ``routing_key=``, ``body=``)."""
        return self._expect("published", count, fields)

    def assert_delivered(self, count: int | None = None, **fields: Any) -> list[BrokerEvent]:
        """Messages were delivered (to a consumer or basic.get): ``queue=``, ``body=``..."""
        return self._expect("delivered", count, fields)

    def assert_acked(self, count: int | None = None, **fields: Any) -> list[BrokerEvent]:
        return self._expect("acked", count, fields)

    def assert_rejected(self, count: int | None = None, **fields: Any) -> list[BrokerEvent]:
        """Messages were rejected or nacked without requeue: ``queue=``."""
        return self._expect("rejected", count, fields)

    def assert_dead_lettered(self, count: int | None = None, **fields: Any
                             ) -> list[BrokerEvent]:
        """Messages were dead-lettered: ``queue=`` (where from), ``reason=`` (``rejected``,
        ``expired``, ``maxlen``), ``exchange=`` (where to)."""
        return self._expect("dead-lettered", count, fields)

    def assert_returned(self, count: int | None = None, **fields: Any) -> list[BrokerEvent]:
        """Mandatory messages came back unroutable: ``exchange=``, ``routing_key=``."""
        return self._expect("returned", count, fields)

    def assert_nothing(self, kind: str, **fields: Any) -> None:
        """No event of ``kind`` with these fields happened."""
        self._expect(kind, 0, fields)

    def _expect(self, kind: str, count: int | None, fields: dict[str, Any]
                ) -> list[BrokerEvent]:
        found = self.select(kind, **fields)
        if (count is None and found) or (count is not None and len(found) == count):
            return found
        wanted = "at least one" if count is None else f"exactly {count}"
        where = ", ".join(f"{k}={v!r}" for k, v in fields.items()) or "any fields"
        raise AssertionError(
            f"expected {wanted} {kind!r} event(s) with {where}; found {len(found)}\n"
            + self.report())

    def report(self) -> str:
        """The trace of everything recorded, and the broker's queues now."""
        lines = self._tracer.format_events(self.events)  # what became of the messages
        trace = "\n".join("  " + line for line in lines)
        queues = "\n".join("  " + line for line in queues_table(self.broker).splitlines())
        return f"broker events ({len(lines)}):\n{trace or '  (none)'}\nqueues:\n{queues}"
