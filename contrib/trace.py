"""A readable account of what a memory broker does with each message.

::

    from contrib.trace import trace

    with trace(broker) as tracer:           # or trace(broker, out=print) to see it live
        transport.publish("logs", "info", b"hello")
        transport.process_events()
    print(tracer.text())

prints lines such as::

    publish  exchange 'logs' (fanout), routing key 'info', body b'hello'
      route  -> queue 'q1' (every binding of a fanout); queue 'q2' (every binding of a fanout)
    deliver  queue 'q1' -> consumer 'ctag-1' (delivery tag 1)
        ack  queue 'q1', delivery tag 1

It is built on :meth:`Broker.add_listener <transports.memory.Broker.add_listener>`: every
publish, route, return, delivery, ack, reject, requeue, expiry and dead-lettering. The
broker tells listeners after it released its lock, one thread at a time and in the order
the events happened, so the lines keep the broker's order even when a processor runs in
its own thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TextIO

from transports.memory import Broker, BrokerEvent
from transports.memory.events import MESSAGE_KINDS
from transports.memory.routing import router_for

__all__ = ["Tracer", "trace"]

Output = Callable[[str], object] | TextIO

_VERBS = {
    "published": "publish", "routed": "route", "returned": "return", "delivered": "deliver",
    "acked": "ack", "rejected": "reject", "requeued": "requeue", "expired": "expire",
    "dead-lettered": "dead-letter", "dropped": "drop",
}
_WIDTH = max(len(v) for v in _VERBS.values())


class Tracer:
    """Collects a line per broker event while attached (as a context manager)."""

    def __init__(self, broker: Broker, *, out: Output | None = None, body_limit: int = 60,
                 prefix: str = "") -> None:
        self.broker = broker
        self.events: list[BrokerEvent] = []
        self.lines: list[str] = []
        self._out = out
        self._body_limit = body_limit
        self._prefix = prefix
        self._lock = threading.Lock()
        self._local = threading.local()  # the last "published" event seen on each thread

    def __enter__(self) -> Tracer:
        self.broker.add_listener(self._on_event)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.broker.remove_listener(self._on_event)

    def text(self) -> str:
        """Everything traced so far, one line per event."""
        with self._lock:
            return "\n".join(self.lines)

    def _on_event(self, event: BrokerEvent) -> None:
        if event.kind not in MESSAGE_KINDS:  # the broker's bookkeeping: no message moved
            return
        if event.kind == "published":
            self._local.published = event
        line = self._prefix + self.format(event)
        with self._lock:
            self.events.append(event)
            self.lines.append(line)
        out = self._out
        if out is None:
            return
        if callable(out):
            out(line)
        else:
            out.write(line + "\n")
            out.flush()

    # -- one line per event ---------------------------------------------------------

    def format_events(self, events: list[BrokerEvent]) -> list[str]:
        """The lines for ``events`` (recorded elsewhere), in order."""
        lines = []
        for event in events:
            if event.kind not in MESSAGE_KINDS:
                continue
            if event.kind == "published":
                self._local.published = event
            lines.append(self.format(event))
        return lines

    def format(self, event: BrokerEvent) -> str:
        """The line for ``event``: a verb, right-aligned, then what happened."""
        verb = _VERBS.get(event.kind, event.kind)
        indent = "  " if event.kind in ("routed", "returned") else ""
        return f"{indent}{verb.rjust(_WIDTH - len(indent))}  {self._detail(event)}"

    def _detail(self, event: BrokerEvent) -> str:
        kind = event.kind
        if kind == "published":
            text = (f"{self._exchange(event.vhost, event.exchange)}, "
                    f"routing key {event.routing_key!r}")
            headers = event.properties.headers if event.properties is not None else None
            if headers:
                text += f", headers {dict(headers)!r}"
            return f"{text}, body {self._body(event.body)}"
        if kind == "routed":
            return self._route(event)
        if kind == "delivered":
            to = f"consumer {event.consumer_tag!r}" if event.consumer_tag else "basic.get"
            again = ", redelivered" if event.redelivered else ""
            return f"queue {event.queue!r} -> {to} (delivery tag {event.delivery_tag}{again})"
        if kind in ("acked", "requeued"):
            return f"queue {event.queue!r}, delivery tag {event.delivery_tag}"
        if kind == "dead-lettered":
            targets = ", ".join(repr(q) for q in event.queues) or "no queue"
            return (f"queue {event.queue!r} ({event.reason}) -> "
                    f"{self._exchange(event.vhost, event.exchange)}, routing key "
                    f"{event.routing_key!r} -> {targets}")
        if kind == "returned":
            return (f"{self._exchange(event.vhost, event.exchange)}, routing key "
                    f"{event.routing_key!r}: {event.reason} (unroutable, mandatory)")
        reason = f" ({event.reason})" if event.reason else ""
        return f"queue {event.queue!r}{reason}"

    def _body(self, body: bytes) -> str:
        text = repr(body)
        if len(text) > self._body_limit:
            text = text[: self._body_limit - 3] + "..."
        return text

    def _exchange(self, vhost: str, name: str) -> str:
        if not name:
            return "the default exchange"
        kind = self._exchange_type(vhost, name)
        return f"exchange {name!r}" + (f" ({kind})" if kind else "")

    def _exchange_type(self, vhost: str, name: str) -> str:
        for snapshot in self.broker.exchanges(vhost):
            if snapshot.name == name:
                return snapshot.type
        return ""

    def _route(self, event: BrokerEvent) -> str:
        """Which bindings of the exchange matched, and the queues the message went to."""
        queues = ", ".join(repr(q) for q in event.queues)
        if not event.exchange:
            if event.queues:
                return f"the default exchange sends it to the queue named {queues}"
            return f"no queue is named {event.routing_key!r}: the message is dropped"
        kind = self._exchange_type(event.vhost, event.exchange)
        matched: dict[tuple[str, str], list[str]] = {}
        if kind:
            headers = self._headers()
            for binding in self.broker.bindings(event.vhost):
                if binding.source != event.exchange:
                    continue
                router = router_for(kind)
                router.bind(binding.routing_key, binding.arguments, 0)
                if router.route(event.routing_key, headers):
                    what = (f"{dict(binding.arguments)!r}" if binding.arguments
                            else repr(binding.routing_key))
                    target = (binding.destination_kind, binding.destination)
                    matched.setdefault(target, []).append(what)
        if not matched:
            return "no binding matches: the message is dropped"
        parts = []
        for (dest_kind, dest), keys in matched.items():
            via = "every binding of a fanout" if kind == "fanout" else \
                f"binding{'s' if len(keys) > 1 else ''} {', '.join(keys)}"
            parts.append(f"{dest_kind} {dest!r} ({via})")
        text = "-> " + "; ".join(parts)
        if {q for k, q in matched if k == "queue"} != set(event.queues):
            text += f" => queues {queues}" if event.queues else " => no queue"
        return text

    def _headers(self) -> dict[str, object] | None:
        # a "routed" event follows its "published" event (same thread), which has the headers
        published: BrokerEvent | None = getattr(self._local, "published", None)
        props = published.properties if published is not None else None
        return dict(props.headers) if props is not None and props.headers else None


@contextmanager
def trace(broker: Broker, *, out: Output | None = None, prefix: str = "") -> Iterator[Tracer]:
    """Trace ``broker`` for the duration of the ``with`` block; yields the :class:`Tracer`.

    ``out`` (a callable such as ``print``, or a text stream) also gets each line as it
    happens; the lines stay in ``tracer.lines`` either way.
    """
    with Tracer(broker, out=out, prefix=prefix) as tracer:
        yield tracer
