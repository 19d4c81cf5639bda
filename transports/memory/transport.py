"""``MemoryTransport``: the :class:`~msgbus.transport.Transport` on an in-process broker.

One connection and one channel on a :class:`~transports.memory.Broker`. Callbacks run in
:meth:`MemoryTransport.process_events`, on the calling thread, never under the broker lock,
so a single-threaded test can run producer → processor → reply deterministically. Methods
other than ``process_events`` may be called from any thread (ack from a worker included).

Acks that consumer callbacks make while ``process_events`` hands out deliveries reach the
broker together, when the callbacks are done or before anything else this transport does,
whichever comes first: in their order against the transport's other calls, as AMQP's
asynchronous acks would on one channel. Other connections may see them a little later.

As on the RabbitMQ transport (pika): cancelling a consumer that acknowledges requeues what
the broker had sent it but its callback had not been given yet; a consumer tag already in
use on the transport is a ``ValidationError``; once ``close()`` ran, calls raise
``ConnectionLost`` and settling a tag only logs a warning. Published properties arrive as
the wire would carry them (``delivery_mode`` as a ``DeliveryMode``, decimals normalised).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from msgbus import checks
from msgbus.errors import (
    ChannelClosed,
    ConnectionClosed,
    ConnectionLost,
    PublishNacked,
    Unroutable,
    ValidationError,
)
from msgbus.transport import (
    ConsumerHandle,
    DeliveryCallback,
    ReturnCallback,
    Transport,
)
from msgbus.values import (
    DELIVERY_MODES,
    EMPTY_PROPERTIES,
    Delivery,
    DeliveryMode,
    ExchangeType,
    Properties,
    Publication,
    QueueInfo,
)
from transports.memory.broker import Broker, Channel, default_broker
from transports.memory.entities import ConsumerCancelled, Deliver, DeliverMany, Return

__all__ = ["MemoryTransport"]

log = logging.getLogger("transports.memory")
T = TypeVar("T")
#: The delivery tag offset of a closed transport: every tag is at or below it, stale.
_CLOSED_BASE = 2**64


class _Consumer(ConsumerHandle):
    def __init__(self, transport: MemoryTransport, channel: Channel, tag: str, queue: str,
                 callback: DeliveryCallback, auto_ack: bool) -> None:
        self._transport = transport
        self._channel = channel
        self._tag = tag
        self._queue = queue
        self.callback = callback
        self.auto_ack = auto_ack
        self.last_tag = 0  # the delivery tag last handed to the callback
        self._active = True

    @property
    def consumer_tag(self) -> str:
        return self._tag

    @property
    def queue(self) -> str:
        return self._queue

    @property
    def active(self) -> bool:
        return self._active and self._channel.is_open

    def cancel(self) -> None:
        transport = self._transport
        transport._flush_held_acks()
        was_active = self.active
        if was_active:
            self._channel.basic_cancel(self._tag)
        self._active = False
        transport._consumers.pop(self._tag, None)
        if was_active and not self.auto_ack:
            transport._requeue_undispatched(self)

    def __repr__(self) -> str:
        return f"<memory consumer {self._tag!r} on {self._queue!r} active={self.active}>"


class MemoryTransport(Transport):
    """A transport on ``broker`` (the process default broker when ``None``)."""

    def __init__(self, broker: Broker | None = None, *, vhost: str = "/",
                 username: str = "guest", password: str = "guest",
                 confirm_publishes: bool = True, name: str = "") -> None:
        self.broker = broker if broker is not None else default_broker()
        self.confirm_publishes = confirm_publishes
        self._connection = self.broker.connect(vhost, username=username, password=password,
                                               name=name)
        self._channel = self._connection.channel()
        self._core = self.broker._core
        # acks made by consumer callbacks while process_events hands out a batch, applied
        # together when the batch ends or before anything else this transport does
        self._held_acks: dict[int, None] = {}
        self._batching: int | None = None  # the thread handing out a batch
        self._held_on: Channel | None = None  # the channel the held acks are for
        self._tag_base = 0  # delivery tags of earlier channels are <= this
        self._consumers: dict[str, _Consumer] = {}
        self._return_callbacks: list[ReturnCallback] = []
        self._lock = threading.Lock()
        self._closed = False  # by close()
        self._dispatched: list[Any] = []  # the events process_events hands out last
        # the last properties published and what they became once checked (see publish)
        self._last_properties: Properties | None = None
        self._last_checked: Properties = EMPTY_PROPERTIES

    def __repr__(self) -> str:
        return f"<MemoryTransport {self.broker!r} vhost={self._connection.state.vhost!r}>"

    # -- the channel ------------------------------------------------------------------

    def _call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a :class:`Channel` method on this transport's channel."""
        channel = self._ready_channel()
        try:
            return method(channel, *args, **kwargs)
        except ChannelClosed:
            self._replace_channel(channel)
            raise

    def _run(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a method of the broker core on this transport's channel (the short way, for
        what runs per message)."""
        channel = self._ready_channel()
        try:
            return self.broker.run_on_channel(channel.state, method, *args, **kwargs)
        except ChannelClosed:
            self._replace_channel(channel)
            raise

    def _ready_channel(self) -> Channel:
        """The open channel, once the acks held for it have gone to the broker."""
        if self._held_acks:
            self._flush_held_acks()
        channel = self._channel
        return channel if channel.state.open else self._open_channel()

    def _open_channel(self) -> Channel:
        with self._lock:
            if not self._connection.is_open:
                if self._closed:
                    raise self._closed_error()
                raise self._connection.closed_by or ConnectionClosed(
                    "connection is closed", 320)
            if not self._channel.is_open:
                self._replace_channel_locked(self._channel)
            return self._channel

    def _replace_channel(self, dead: Channel) -> None:
        with self._lock:
            self._replace_channel_locked(dead)

    def _replace_channel_locked(self, dead: Channel) -> None:
        if self._channel is not dead or not self._connection.is_open:
            return
        self._tag_base += dead.state.next_tag - 1
        self._held_acks = {}  # their messages went back to their queues with the channel
        for consumer in self._consumers.values():
            consumer._active = False
        self._consumers.clear()
        self._channel = self._connection.channel()

    def _closed_error(self) -> ConnectionLost:
        broker = f"memory broker {self.broker.name!r}" if self.broker.name else "a memory broker"
        return ConnectionLost(
            f"the transport to {broker} (vhost {self._connection.state.vhost!r}) is closed")

    def _local_tag(self, delivery_tag: int, action: str) -> int | None:
        if type(delivery_tag) is int and delivery_tag > self._tag_base:
            return delivery_tag - self._tag_base
        checks.require_delivery_tag(delivery_tag)
        if self._closed:  # its channel went with it, as did every tag (_CLOSED_BASE)
            log.warning("ignoring %s of delivery tag %d: the transport is closed (the "
                        "message was returned to its queue)", action, delivery_tag)
            return None
        if delivery_tag == 0:
            return 0
        if delivery_tag <= self._tag_base:
            log.warning("ignoring %s of delivery tag %d: it belongs to a closed channel "
                        "(the message was returned to its queue)", action, delivery_tag)
            return None
        return delivery_tag - self._tag_base

    # -- exchanges, queues, bindings --------------------------------------------------

    def declare_exchange(self, name: str, type: ExchangeType | str = ExchangeType.DIRECT, *,
                         passive: bool = False, durable: bool = False,
                         auto_delete: bool = False, internal: bool = False,
                         arguments: Mapping[str, Any] | None = None) -> None:
        checks.require_str("exchange name", name)
        exchange_type = type.value if isinstance(type, ExchangeType) else type
        checks.require_str("exchange type", exchange_type)
        self._call(Channel.exchange_declare, name, exchange_type, passive=passive,
                   durable=durable, auto_delete=auto_delete, internal=internal,
                   arguments=checks.wire_table(arguments, "exchange arguments"))

    def delete_exchange(self, name: str, *, if_unused: bool = False) -> None:
        checks.require_str("exchange name", name)
        self._call(Channel.exchange_delete, name, if_unused=if_unused)

    def declare_queue(self, name: str = "", *, passive: bool = False, durable: bool = False,
                      exclusive: bool = False, auto_delete: bool = False,
                      arguments: Mapping[str, Any] | None = None) -> QueueInfo:
        checks.require_str("queue name", name)
        queue, messages, consumers = self._call(
            Channel.queue_declare, name, passive=passive, durable=durable, exclusive=exclusive,
            auto_delete=auto_delete, arguments=checks.wire_table(arguments, "queue arguments"))
        return QueueInfo(queue, messages, consumers)

    def delete_queue(self, name: str, *, if_unused: bool = False, if_empty: bool = False
                     ) -> int:
        checks.require_str("queue name", name)
        return self._call(Channel.queue_delete, name, if_unused=if_unused, if_empty=if_empty)

    def purge_queue(self, name: str) -> int:
        checks.require_str("queue name", name)
        return self._call(Channel.queue_purge, name)

    def bind_queue(self, queue: str, exchange: str, routing_key: str = "",
                   arguments: Mapping[str, Any] | None = None) -> None:
        checks.require_binding(queue, exchange, routing_key)
        self._call(Channel.queue_bind, queue, exchange, routing_key,
                   checks.wire_table(arguments, "binding arguments"))

    def unbind_queue(self, queue: str, exchange: str, routing_key: str = "",
                     arguments: Mapping[str, Any] | None = None) -> None:
        checks.require_binding(queue, exchange, routing_key)
        self._call(Channel.queue_unbind, queue, exchange, routing_key,
                   checks.wire_table(arguments, "binding arguments"))

    def bind_exchange(self, destination: str, source: str, routing_key: str = "",
                      arguments: Mapping[str, Any] | None = None) -> None:
        checks.require_binding(destination, source, routing_key)
        self._call(Channel.exchange_bind, destination, source, routing_key,
                   checks.wire_table(arguments, "binding arguments"))

    def unbind_exchange(self, destination: str, source: str, routing_key: str = "",
                        arguments: Mapping[str, Any] | None = None) -> None:
        checks.require_binding(destination, source, routing_key)
        self._call(Channel.exchange_unbind, destination, source, routing_key,
                   checks.wire_table(arguments, "binding arguments"))

    # -- publishing -------------------------------------------------------------------

    def publish(self, exchange: str, routing_key: str, body: bytes,
                properties: Properties | None = None, *, mandatory: bool = False) -> None:
        if not (type(exchange) is str and type(routing_key) is str and type(body) is bytes
                and len(exchange) <= checks.SURELY_SHORT
                and len(routing_key) <= checks.SURELY_SHORT
                and exchange.isascii() and routing_key.isascii()):
            checks.require_str("exchange name", exchange)
            checks.require_str("routing key", routing_key)
            body = checks.require_body(body)
        if properties is None:
            properties = EMPTY_PROPERTIES
        elif properties is self._last_properties:  # a producer publishes the same ones again
            properties = self._last_checked
        else:
            properties = self._checked_properties(properties)
        confirm = self.confirm_publishes
        result = self._run(self._core.basic_publish, exchange, routing_key, body, properties,
                           mandatory=mandatory and not confirm)
        if confirm:
            if mandatory and not result.routed:
                raise Unroutable(exchange, routing_key)
            if result.nacked:
                raise PublishNacked(exchange, routing_key)

    def _checked_properties(self, properties: Properties) -> Properties:
        """``properties`` as they arrive: checked, headers as encoded, ``delivery_mode`` a
        :class:`DeliveryMode`; kept for the next publish when nothing in them is mutable."""
        p = checks.require_properties(properties)
        assert p is not None
        headers, mode = p.headers, p.delivery_mode
        if headers is None and (mode is None or type(mode) is DeliveryMode):
            checked = p
        else:  # positional, in the AMQP order: dataclasses.replace costs twice as much
            checked = Properties(
                p.content_type, p.content_encoding,
                checks.wire_table(headers, "headers") if headers is not None else None,
                DELIVERY_MODES.get(mode, mode) if mode is not None else None, p.priority,
                p.correlation_id, p.reply_to, p.expiration, p.message_id, p.timestamp, p.type,
                p.user_id, p.app_id, p.cluster_id)
        if headers is None:
            self._last_properties, self._last_checked = p, checked
        return checked

    def publish_batch(self, publications: Iterable[Publication], *,
                      mandatory: bool = False) -> None:
        """As documented by :class:`~msgbus.transport.Transport`: one message after the
        other (confirms come at once here)."""
        batch = checks.require_publications(publications)
        if not batch:
            return
        if self._closed:
            raise self._closed_error()
        self._publish_one_by_one(batch, mandatory, confirmed=self.confirm_publishes)

    def add_return_callback(self, callback: ReturnCallback) -> None:
        self._return_callbacks.append(callback)

    # -- consuming --------------------------------------------------------------------

    def consume(self, queue: str, callback: DeliveryCallback, *, prefetch: int = 0,
                auto_ack: bool = False, exclusive: bool = False, consumer_tag: str = "",
                arguments: Mapping[str, Any] | None = None) -> ConsumerHandle:
        checks.require_str("queue name", queue)
        checks.require_callback("consumer callback", callback)
        checks.require_prefetch(prefetch)
        if consumer_tag and consumer_tag in self._consumers:  # nothing is sent, as with pika
            raise ValidationError(f"consumer tag {consumer_tag!r} is already in use")
        channel = self._open_channel()
        self._call(Channel.basic_qos, prefetch)
        tag = self._call(Channel.basic_consume, queue, consumer_tag, no_ack=auto_ack,
                         exclusive=exclusive,
                         arguments=checks.wire_table(arguments, "consumer arguments"))
        handle = _Consumer(self, channel, tag, queue, callback, auto_ack)
        self._consumers[tag] = handle
        return handle

    def get(self, queue: str, *, auto_ack: bool = False) -> Delivery | None:
        checks.require_str("queue name", queue)
        delivery = self._call(Channel.basic_get, queue, no_ack=auto_ack)
        return self._global(delivery) if delivery is not None else None

    def _global(self, delivery: Delivery) -> Delivery:
        if not self._tag_base:
            return delivery
        return dataclasses.replace(delivery, delivery_tag=delivery.delivery_tag + self._tag_base)

    def ack(self, delivery_tag: int, *, multiple: bool = False) -> None:
        tag = self._local_tag(delivery_tag, "ack")
        if tag is None:
            return
        held = self._held_acks
        channel = self._channel
        if (not multiple and self._batching == threading.get_ident()
                and tag not in held and tag in channel.state.unacked):
            if not held:
                self._held_on = channel
            held[tag] = None
            return
        self._run(self._core.basic_ack, tag, multiple=multiple)

    def _flush_held_acks(self) -> None:
        """Send the held acks, if this is the thread that holds them (another thread's
        calls are not ordered against them anyway)."""
        if self._held_acks and self._batching == threading.get_ident():
            self._flush_acks()

    def _flush_acks(self) -> None:
        tags = list(self._held_acks)
        self._held_acks = {}
        channel = self._channel
        if channel is not self._held_on or not channel.state.open:
            return  # closed meanwhile: the messages went back to their queues
        try:
            self.broker.run_on_channel(channel.state, self._core.basic_ack_each, tags)
        except ChannelClosed:
            self._replace_channel(channel)
            raise

    def nack(self, delivery_tag: int, *, multiple: bool = False, requeue: bool = True) -> None:
        tag = self._local_tag(delivery_tag, "nack")
        if tag is not None:
            self._run(self._core.basic_nack, tag, multiple=multiple, requeue=requeue)

    def reject(self, delivery_tag: int, *, requeue: bool = True) -> None:
        tag = self._local_tag(delivery_tag, "reject")
        if tag is not None:
            self._run(self._core.basic_nack, tag, multiple=False, requeue=requeue)

    def process_events(self, timeout: float | None = 0.0) -> None:
        timeout = checks.require_timeout(timeout)
        if self._closed:
            raise self._closed_error()
        if self._held_acks:  # a callback processing events itself
            self._flush_held_acks()
        connection = self._connection
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            events = connection.drain()
            if events:
                if self._core.tracing or self._batching is not None:
                    self._dispatch(events)
                    return
                self._batching = threading.get_ident()
                try:
                    self._dispatch(events)
                finally:
                    try:
                        if self._held_acks:
                            self._flush_acks()
                    finally:
                        self._batching = None
                return
            if not connection.is_open:
                return
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            connection.wait(remaining)

    def _requeue_undispatched(self, consumer: _Consumer) -> None:
        """Nack, requeued, what the broker delivered to ``consumer`` (cancelled, acking)
        that its callback has not seen: what pika does, so the RabbitMQ transport too."""
        channel = self._channel
        if channel is not consumer._channel or not channel.is_open:
            return
        number, tag, base = channel.state.id, consumer.consumer_tag, self._tag_base
        with self.broker._lock:
            events = [*self._dispatched, *self._connection.state.outbox]
            unacked = channel.state.unacked
            tags: list[int] = []
            for event in events:
                if type(event) is Deliver and event.channel == number:
                    if event.consumer_tag == tag:
                        tags.append(event.delivery_tag)
                elif (type(event) is DeliverMany and event.channel == number
                      and event.consumer_tag == tag):
                    tags.extend(range(event.first_tag, event.first_tag + len(event.messages)))
            tags = [t for t in tags if t + base > consumer.last_tag and t in unacked]
        for local in tags:
            self._run(self._core.basic_nack, local, multiple=False, requeue=True)

    def _dispatch(self, events: list[Any]) -> None:
        self._dispatched = events
        current = self._channel.state.id
        consumers = self._consumers
        for event in events:
            if event.channel != current:
                continue  # for a channel closed since: its consumers are gone
            if type(event) is Deliver:
                consumer = consumers.get(event.consumer_tag)
                if consumer is not None:
                    message = event.message
                    consumer.last_tag = tag = event.delivery_tag + self._tag_base
                    consumer.callback(Delivery(
                        message.body, tag, message.exchange,
                        message.routing_key, event.redelivered, message.properties,
                        event.consumer_tag))
            elif type(event) is DeliverMany:
                self._deliver_many(event)
            elif isinstance(event, Return):
                for callback in list(self._return_callbacks):
                    callback(event.message)
            elif isinstance(event, ConsumerCancelled):
                cancelled = self._consumers.pop(event.consumer_tag, None)
                if cancelled is not None:
                    cancelled._active = False

    def _deliver_many(self, event: DeliverMany) -> None:
        consumers, consumer_tag = self._consumers, event.consumer_tag
        consumer = consumers.get(consumer_tag)
        tag = event.first_tag + self._tag_base
        for message, redelivered in zip(event.messages, event.redelivered, strict=True):
            if consumers.get(consumer_tag) is not consumer or consumer is None:
                return  # cancelled, or its channel closed, by an earlier callback
            consumer.last_tag = tag
            consumer.callback(Delivery(
                message.body, tag, message.exchange, message.routing_key, redelivered,
                message.properties, consumer_tag))
            tag += 1

    # -- lifecycle --------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._connection.is_open

    @property
    def vhost(self) -> str:
        return self._connection.state.vhost

    def close(self) -> None:
        if self._held_acks and self._connection.is_open:
            self._flush_held_acks()
        self._closed = True
        self._tag_base = _CLOSED_BASE
        self._connection.close()
        for consumer in self._consumers.values():
            consumer._active = False
        self._consumers.clear()
