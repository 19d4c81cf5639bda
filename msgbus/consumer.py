"""``GenericConsumer``: queues bound to exchanges, consumed on one transport.

``eqk`` lists, per exchange, the queues to bind and their routing keys::

    class Consumer(GenericConsumer):
        eqk = [
            (JobsExchange, [("jobs", "resize"), ("jobs", "crop")]),
            (EventsExchange, [({"name": "", "flags": {"exclusive": True}}, "")]),
        ]

A queue is a name, or ``{"name": ..., "flags": {...}}`` with the flags of
``Transport.declare_queue`` (``durable``, ``exclusive``, ``auto_delete``, ``passive``,
``arguments`` — e.g. ``{"x-dead-letter-exchange": "dlx"}``). An empty name lets the broker
name a private queue. :meth:`queue_bind` and :meth:`queue_unbind` change bindings while
the consumer runs; a queue bound while consuming is consumed at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

from msgbus.checks import require_instance
from msgbus.codecs import Encoder, JsonEncoder, decoder_for
from msgbus.connect import connect
from msgbus.errors import ValidationError
from msgbus.exchanges import Exchange
from msgbus.handlers import as_reply
from msgbus.messages import Message
from msgbus.transport import ConsumerHandle, Transport
from msgbus.values import Delivery, Properties

__all__ = ["EQK", "Binding", "GenericConsumer", "QueueSpec", "require_eqk"]

log = logging.getLogger("msgbus.consumer")

QueueSpec: TypeAlias = "str | Mapping[str, Any]"
EQK: TypeAlias = "Sequence[tuple[type[Exchange], Sequence[tuple[QueueSpec, str]]]]"
QUEUE_FLAGS = frozenset({"durable", "exclusive", "auto_delete", "passive", "arguments"})


@dataclass(frozen=True, slots=True)
class Binding:
    """One queue bound to one exchange with one routing key."""

    exchange: type[Exchange]
    queue: str
    routing_key: str


class GenericConsumer:
    """Binds queues to exchanges (``eqk``) and consumes them with one callback."""

    eqk: ClassVar[EQK] = ()
    encoder_class: ClassVar[type[Encoder]] = JsonEncoder
    #: Unacknowledged messages per queue (basic.qos); 1 shares work fairly among workers.
    prefetch: int = 1

    def __init__(
        self,
        eqk: EQK | None = None,
        *,
        transport: Transport | None = None,
        encoder: Encoder | None = None,
        prefetch: int | None = None,
    ) -> None:
        self._owns_transport = transport is None
        self.transport: Transport = connect() if transport is None else require_instance(
            "transport", transport, Transport, "a msgbus Transport (e.g. msgbus.connect(url))")
        self.encoder: Encoder = self.encoder_class() if encoder is None else require_instance(
            "encoder", encoder, Encoder, "an encoder with content_type, encode and decode")
        if prefetch is not None:
            self.prefetch = prefetch
        if not isinstance(self.prefetch, int) or self.prefetch < 0:
            raise ValidationError(f"prefetch must be an integer >= 0, got {self.prefetch!r}")
        self.bindings: list[Binding] = []
        self._queues: dict[str, dict[str, Any]] = {}  # name -> declare flags, in order
        self._declared_exchanges: set[type[Exchange]] = set()
        self._consumers: dict[str, ConsumerHandle] = {}
        self._callback: Callable[[Delivery], None] | None = None
        self.add_eqk(eqk if eqk is not None else self.eqk)

    # -- declarations ------------------------------------------------------------------

    @property
    def queues(self) -> list[str]:
        """The names of the queues this consumer declared, in order."""
        return list(self._queues)

    def add_eqk(self, eqk: EQK) -> None:
        """Declare and bind everything in ``eqk`` (checked first: a malformed ``eqk`` raises
        :class:`~msgbus.errors.ValidationError` before anything is declared)."""
        for exchange, qk_list in require_eqk(eqk):
            for queue, key in qk_list:
                self.queue_bind(exchange, queue, key)

    def declare_exchange(self, exchange: type[Exchange]) -> None:
        _check_exchange(exchange)
        if exchange not in self._declared_exchanges:
            exchange.declare(self.transport)
            self._declared_exchanges.add(exchange)

    def declare_queue(self, queue: QueueSpec, **flags: Any) -> str:
        """Declare ``queue`` (a name or ``{"name", "flags"}``); return its name."""
        name, spec_flags = _queue_spec(queue)
        flags = {**spec_flags, **flags}
        unknown = set(flags) - QUEUE_FLAGS
        if unknown:
            raise ValidationError(
                f"unknown queue flag(s) {sorted(unknown)} for queue {name!r}; "
                f"expected some of {sorted(QUEUE_FLAGS)}"
            )
        if name and name in self._queues and not flags:
            return name  # already declared here, with its own flags
        info = self.transport.declare_queue(name, **flags)
        self._queues[info.name] = flags
        return info.name

    def queue_bind(
        self, exchange: type[Exchange], queue: QueueSpec, key: str, **flags: Any
    ) -> str:
        """Declare ``exchange`` and ``queue``, bind them with ``key``; return the queue name.

        When the consumer is running, a queue new to it is consumed at once.
        """
        self.declare_exchange(exchange)
        name = self.declare_queue(queue, **flags)
        if exchange.name == "":
            if key not in ("", name):
                raise ValidationError(
                    f"queue {name!r} cannot be bound to the default exchange with key {key!r}: "
                    "the default exchange routes by queue name"
                )
        else:
            self.transport.bind_queue(name, exchange.name, key)
        binding = Binding(exchange, name, key)
        if binding not in self.bindings:
            self.bindings.append(binding)
        if self._callback is not None and name not in self._consumers:
            self._consume(name)
        return name

    def queue_unbind(self, exchange: type[Exchange], queue: QueueSpec, key: str) -> None:
        """Remove the binding of ``queue`` to ``exchange`` with ``key``."""
        name, _ = _queue_spec(queue)
        self.declare_exchange(exchange)
        if exchange.name != "":
            self.transport.unbind_queue(name, exchange.name, key)
        binding = Binding(exchange, name, key)
        if binding in self.bindings:
            self.bindings.remove(binding)

    # -- consuming ---------------------------------------------------------------------

    @property
    def consuming(self) -> bool:
        return self._callback is not None

    def start_consuming(self, callback: Callable[[Delivery], None]) -> None:
        """Consume every declared queue, handing each delivery to ``callback``."""
        self._callback = callback
        for name in self._queues:
            if name not in self._consumers:
                self._consume(name)

    def cancel_queue(self, queue: str) -> None:
        """Stop consuming ``queue`` (its unacknowledged messages stay with us until acked)."""
        handle = self._consumers.pop(queue, None)
        if handle is not None and handle.active:
            handle.cancel()

    def forget_queue(self, queue: str) -> None:
        """Stop consuming ``queue`` and forget it (it is no longer consumed on restart)."""
        self.cancel_queue(queue)
        self._queues.pop(queue, None)
        self.bindings = [b for b in self.bindings if b.queue != queue]

    def stop_consuming(self) -> None:
        """Cancel every consumer."""
        for name in list(self._consumers):
            self.cancel_queue(name)
        self._callback = None

    def process_events(self, timeout: float | None = 0.0) -> None:
        """Run the callbacks of pending deliveries (``Transport.process_events``)."""
        self.transport.process_events(timeout)

    def _consume(self, name: str) -> None:
        callback = self._callback
        if callback is None:  # not consuming
            return
        self._consumers[name] = self.transport.consume(
            name, callback, prefetch=self.prefetch
        )

    # -- acknowledgements and replies --------------------------------------------------

    def ack(self, delivery: Delivery) -> None:
        self.transport.ack(delivery.delivery_tag)

    def reject(self, delivery: Delivery, requeue: bool = False) -> None:
        self.transport.reject(delivery.delivery_tag, requeue=requeue)

    def decode(self, delivery: Delivery) -> Any:
        """The body of ``delivery`` decoded by the decoder for its content type."""
        return decoder_for(delivery.properties.content_type, self.encoder).decode(delivery.body)

    def rpc_reply(self, delivery: Delivery, reply: Any) -> None:
        """Answer the RPC ``delivery``: ``reply`` is a Message or a value for MessageResult."""
        reply_to = delivery.properties.reply_to
        if not reply_to:
            log.warning(
                "cannot reply to an RPC from exchange %r with routing key %r: "
                "the message has no reply_to property",
                delivery.exchange,
                delivery.routing_key,
            )
            return
        message: Message = as_reply(reply)
        self.transport.publish(
            "",
            reply_to,
            self.encoder.encode(message.body),
            # positional (half the cost of keywords): content_type, -, -, -, -, correlation_id
            Properties(self.encoder.content_type, None, None, None, None,
                       delivery.properties.correlation_id),
        )

    def close(self) -> None:
        """Stop consuming; close the transport if this consumer opened it."""
        if self.transport.is_open:
            self.stop_consuming()
            if self._owns_transport:
                self.transport.close()


def _queue_spec(queue: QueueSpec) -> tuple[str, dict[str, Any]]:
    if isinstance(queue, str):
        return queue, {}
    if isinstance(queue, Mapping) and isinstance(queue.get("name"), str):
        flags = queue.get("flags") or {}
        if not isinstance(flags, Mapping):
            raise ValidationError(
                f"queue {queue['name']!r}: 'flags' must be a mapping, got {flags!r}"
            )
        return queue["name"], dict(flags)
    raise ValidationError(
        f"a queue is a name or a mapping {{'name': str, 'flags': {{...}}}}, got {_short(queue)}"
    )


def _check_exchange(exchange: Any, what: str = "exchange") -> None:
    if not (isinstance(exchange, type) and issubclass(exchange, Exchange)):
        raise ValidationError(
            f"{what}: expected an Exchange subclass (the class itself), got {_short(exchange)}"
        )


_EQK_FORM = "a list of (Exchange subclass, [(queue, routing key), ...]) pairs"


def require_eqk(eqk: object, what: str = "eqk") -> list[tuple[type[Exchange], list[Any]]]:
    """``eqk`` as a list, checked: a :class:`~msgbus.errors.ValidationError` naming the
    entry that is not (Exchange subclass, [(queue, routing key), ...])."""
    if isinstance(eqk, (str, bytes, Mapping)) or not isinstance(eqk, Iterable):
        raise ValidationError(
            f"{what} must be {_EQK_FORM}, got {type(eqk).__name__}: {_short(eqk)}")
    entries = list(eqk)
    if len(entries) == 2 and _is_exchange(entries[0]):
        raise ValidationError(
            f"{what} must be {_EQK_FORM}, got a single pair {_short(eqk)}: put it in a "
            "list, [(Exchange, [...])]")
    checked = []
    for i, entry in enumerate(entries):
        if not (isinstance(entry, (tuple, list)) and len(entry) == 2):
            raise ValidationError(
                f"{what}[{i}] must be a pair (Exchange subclass, [(queue, routing key), ...]), "
                f"got {_short(entry)}")
        exchange, qk_list = entry
        _check_exchange(exchange, f"{what}[{i}]")
        if isinstance(qk_list, (str, bytes, Mapping)) or not isinstance(qk_list, Iterable):
            raise ValidationError(
                f"{what}[{i}] must pair its exchange with a list of (queue, routing key) "
                f"pairs, got {type(qk_list).__name__}: {_short(qk_list)}")
        pairs = list(qk_list)
        if len(pairs) == 2 and isinstance(pairs[1], str) and isinstance(pairs[0], (str, Mapping)):
            raise ValidationError(
                f"{what}[{i}] must pair its exchange with a list of (queue, routing key) "
                f"pairs, got the single pair {_short(qk_list)}: put it in a list")
        for j, pair in enumerate(pairs):
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
                raise ValidationError(
                    f"{what}[{i}] queue #{j} must be a pair (queue, routing key), got "
                    f"{_short(pair)}")
            if not isinstance(pair[1], str):
                raise ValidationError(
                    f"{what}[{i}] queue #{j}: the routing key must be a str, got "
                    f"{type(pair[1]).__name__}: {_short(pair[1])}")
            try:
                _queue_spec(pair[0])
            except ValidationError as exc:
                raise ValidationError(f"{what}[{i}] queue #{j}: {exc}") from None
        checked.append((exchange, pairs))
    return checked


def _is_exchange(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, Exchange)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
