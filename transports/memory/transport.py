"""``MemoryTransport``: the :class:`~msgbus.transport.Transport` on an in-process broker.

One connection and one channel on a :class:`~transports.memory.Broker`. Callbacks run in
:meth:`MemoryTransport.process_events`, on the calling thread, never under the broker lock,
so a single-threaded test can run producer → processor → reply deterministically. Methods
other than ``process_events`` may be called from any thread (ack from a worker included).

Acks that consumer callbacks make while ``process_events`` hands out deliveries reach the
broker together, when the callbacks are done or before anything else this transport does,
whichever comes first: in their order against the transport's other calls, as AMQP's
asynchronous acks would on one channel. Other connections may see them a little later.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from msgbus import checks
from msgbus.errors import (
    ChannelClosed,
    ConnectionClosed,
    PublishNacked,
    Unroutable,
)
from msgbus.transport import (
    ConsumerHandle,
    DeliveryCallback,
    ReturnCallback,
    Transport,
)
from msgbus.values import EMPTY_PROPERTIES, Delivery, ExchangeType, Properties, QueueInfo
from transports.memory.broker import Broker, Channel, default_broker
from transports.memory.entities import ConsumerCancelled, Deliver, DeliverMany, Return

__all__ = ["MemoryTransport"]

log = logging.getLogger("transports.memory")
T = TypeVar("T")


class _Consumer(ConsumerHandle):
    def __init__(self, transport: MemoryTransport, channel: Channel, tag: str, queue: str,
                 callback: DeliveryCallback) -> None:
        self._transport = transport
        self._channel = channel
        self._tag = tag
        self._queue = queue
        self.callback = callback
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
        self._transport._flush_held_acks()
        if self.active:
            self._channel.basic_cancel(self._tag)
        self._active = False
        self._transport._consumers.pop(self._tag, None)

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

    def _local_tag(self, delivery_tag: int, action: str) -> int | None:
        if type(delivery_tag) is int and delivery_tag > self._tag_base:
            return delivery_tag - self._tag_base
        checks.require_delivery_tag(delivery_tag)
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
                and len(routing_key) <= checks.SURELY_SHORT):
            checks.require_str("exchange name", exchange)
            checks.require_str("routing key", routing_key)
            body = checks.require_body(body)
        if properties is None:
            properties = EMPTY_PROPERTIES
        elif checks.require_properties(properties) is not None and properties.headers is not None:
            properties = dataclasses.replace(
                properties, headers=checks.wire_table(properties.headers, "headers"))
        confirm = self.confirm_publishes
        result = self._run(self._core.basic_publish, exchange, routing_key, body, properties,
                           mandatory=mandatory and not confirm)
        if confirm:
            if mandatory and not result.routed:
                raise Unroutable(exchange, routing_key)
            if result.nacked:
                raise PublishNacked(exchange, routing_key)

    def add_return_callback(self, callback: ReturnCallback) -> None:
        self._return_callbacks.append(callback)

    # -- consuming --------------------------------------------------------------------

    def consume(self, queue: str, callback: DeliveryCallback, *, prefetch: int = 0,
                auto_ack: bool = False, exclusive: bool = False, consumer_tag: str = "",
                arguments: Mapping[str, Any] | None = None) -> ConsumerHandle:
        checks.require_str("queue name", queue)
        checks.require_callback("consumer callback", callback)
        checks.require_prefetch(prefetch)
        channel = self._open_channel()
        self._call(Channel.basic_qos, prefetch)
        tag = self._call(Channel.basic_consume, queue, consumer_tag, no_ack=auto_ack,
                         exclusive=exclusive,
                         arguments=checks.wire_table(arguments, "consumer arguments"))
        handle = _Consumer(self, channel, tag, queue, callback)
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

    def _dispatch(self, events: list[Any]) -> None:
        current = self._channel.state.id
        consumers = self._consumers
        for event in events:
            if event.channel != current:
                continue  # for a channel closed since: its consumers are gone
            if type(event) is Deliver:
                consumer = consumers.get(event.consumer_tag)
                if consumer is not None:
                    message = event.message
                    consumer.callback(Delivery(
                        message.body, event.delivery_tag + self._tag_base, message.exchange,
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
            consumer.callback(Delivery(
                message.body, tag, message.exchange, message.routing_key, redelivered,
                message.properties, consumer_tag))
            tag += 1

    # -- lifecycle --------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._connection.is_open

    def close(self) -> None:
        if self._held_acks and self._connection.is_open:
            self._flush_held_acks()
        self._connection.close()
        for consumer in self._consumers.values():
            consumer._active = False
        self._consumers.clear()
