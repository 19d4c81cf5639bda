"""``BlockingChannel``: pika's blocking channel over a memory-broker channel.

Arguments are validated and encoded by pika itself (its validators and its method frame
encoders), so a program gets the client-side ``TypeError`` / ``ValueError`` /
``AssertionError`` pika would raise; what reaches the broker is what the wire would carry.
Channel errors raise ``pika.exceptions.ChannelClosedByBroker``; an error caused by an
asynchronous method (a publish without confirms, an ack) surfaces on the channel's next
synchronous call, as it does with pika against RabbitMQ.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import pika.frame
import pika.spec
from pika import exceptions, validators
from pika.adapters.blocking_connection import BlockingChannel as PikaBlockingChannel
from pika.adapters.blocking_connection import ReturnedMessage

from contrib.pika_compat._consumers import (
    ConsumerInfo,
    GeneratorInfo,
    Message,
    OnMessage,
    PendingBatch,
    wire,
)
from contrib.pika_compat._declare import ChannelMethods
from contrib.pika_compat._errors import (
    CHANNEL_CLOSED,
    FRAME_ON_CLOSED_CONNECTION,
    to_pika_error,
)
from contrib.pika_compat._generator import GeneratorMethods
from contrib.pika_compat._properties import (
    encode_body,
    from_pika,
    get_ok_method,
    pika_delivery,
    return_method,
    to_pika,
)
from msgbus.errors import AMQPError, AMQPNotImplemented, ConnectionClosed
from msgbus.values import ReturnedMessage as MemoryReturned
from transports.memory import Channel
from transports.memory.entities import Deliver, DeliverMany

if TYPE_CHECKING:
    from contrib.pika_compat._connection import BlockingConnection

__all__ = ["BlockingChannel"]

T = TypeVar("T")
_MAX_TAG = 2**64 - 1  # a delivery tag is an unsigned 64-bit number on the wire


class BlockingChannel(ChannelMethods, GeneratorMethods, PikaBlockingChannel):  # type: ignore[misc]
    """pika's ``BlockingChannel`` API (see pika's documentation for each method). A
    subclass of pika's own class, for code that checks ``isinstance``; every method is
    this class's own, none of pika's I/O runs."""

    def __init__(self, impl: Channel, connection: BlockingConnection) -> None:
        self._impl = impl
        self._broker = impl.connection.broker
        self._connection = connection
        self._number = impl.channel_number
        self._closed = False
        self._closing_reason: BaseException | None = None
        self._deferred: BaseException | None = None  # a close the program has not seen yet
        self._close_seen = False  # the dispatch reached that close
        self._consumers: dict[str, ConsumerInfo] = {}
        self._pending: deque[tuple[str, Any]] = deque()
        self._generator: GeneratorInfo | None = None
        self._confirming = False
        self._get_pending = False  # a basic_get that got neither get-ok nor get-empty
        self._holding = False  # dispatching to consumer callbacks: their acks are held
        self._held_acks: list[int] = []
        self._return_callbacks: list[Callable[..., None]] = []
        self._cancel_callbacks: list[Callable[..., None]] = []

    # -- state ----------------------------------------------------------------------

    def __int__(self) -> int:
        return self._number

    def __repr__(self) -> str:
        return f"<BlockingChannel memory #{self._number} open={self.is_open}>"

    def __enter__(self) -> BlockingChannel:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.is_open:
            self.close()

    @property
    def channel_number(self) -> int:
        return self._number

    @property
    def connection(self) -> BlockingConnection:
        return self._connection

    @property
    def is_closed(self) -> bool:
        if not self._closed and self._connection.is_closed:
            self._closed = True
        return self._closed

    @property
    def is_open(self) -> bool:
        return not self.is_closed

    @property
    def consumer_tags(self) -> list[str]:
        return list(self._consumers)

    def _mark_closed(self, reason: BaseException) -> None:
        self._closed = True
        self._closing_reason = reason
        self._deferred = None
        self._held_acks = []
        if self in self._connection._holding_acks:
            self._connection._holding_acks.remove(self)
        self._consumers.clear()
        self._generator = None
        self._pending.clear()
        self._connection._forget_channel(self)

    def _on_connection_closed(self, reason: BaseException) -> None:
        self._mark_closed(reason)

    def _raise_if_not_open(self) -> None:
        if self._connection._holding_acks:
            self._connection._flush_acks()
        if (self._closed or not self._impl.connection.state.open) and self.is_closed:
            raise exceptions.ChannelWrongStateError(CHANNEL_CLOSED)

    def _raise_deferred(self) -> None:
        """Surface a close caused earlier by an asynchronous method."""
        reason = self._deferred
        if reason is not None:
            self._mark_closed(reason)
            raise reason

    def _failed(self, error: AMQPError) -> BaseException:
        reason: BaseException
        if isinstance(error, ConnectionClosed):
            reason = self._connection._broker_closed(error)
            return reason
        reason = to_pika_error(error)
        self._mark_closed(reason)
        return reason

    def _sync(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A synchronous AMQP method: errors raise here and close the channel."""
        self._raise_if_not_open()
        self._raise_deferred()
        try:
            return method(*args, **kwargs)
        except AMQPError as error:
            raise self._failed(error) from None

    def _async(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """An asynchronous AMQP method: an error closes the channel, and the program
        hears of it on its next synchronous call."""
        self._raise_if_not_open()
        if self._deferred is not None:
            return  # the broker already closed this channel: the frame goes nowhere
        try:
            method(*args, **kwargs)
        except AMQPError as error:
            self._async_failed(error)

    def _async_checked(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """:meth:`_async` for a channel the caller checked open (the short way, for what
        runs per message)."""
        if self._deferred is not None or not self._impl.state.open:
            return  # the broker already closed this channel: the frame goes nowhere
        try:
            method(*args, **kwargs)
        except AMQPError as error:
            self._async_failed(error)

    def _async_failed(self, error: AMQPError) -> None:
        if isinstance(error, ConnectionClosed):
            self._connection._broker_closed(error)
        else:
            self._defer(to_pika_error(error))

    def _defer(self, reason: BaseException) -> None:
        """The broker closed this channel for an asynchronous method: a synchronous call
        hears of it at once, consumer callbacks only after the deliveries the broker sent
        before the close (pika reads them first, in order)."""
        self._deferred = reason
        self._close_seen = False
        self._connection._pump()
        self._pending.append(("close", None))

    def _frame(self, method: Any) -> pika.frame.Method[Any]:
        return pika.frame.Method(self._number, method)

    # -- events from the connection -------------------------------------------------

    def _on_deliver_many(self, event: DeliverMany) -> None:
        generator = self._generator
        if generator is not None and generator.consumer_tag == event.consumer_tag:
            generator.pending.extend(PendingBatch(event).take_all())
            self._connection._request_wakeup()
        else:
            self._pending.append(("batch", PendingBatch(event)))

    def _on_deliver(self, event: Deliver) -> None:
        consumer_tag = event.consumer_tag
        message = pika_delivery(consumer_tag, event.delivery_tag, event.redelivered,
                                event.message)
        generator = self._generator
        if generator is not None and generator.consumer_tag == consumer_tag:
            generator.pending.append(message)
            self._connection._request_wakeup()
        else:
            self._pending.append(("deliver", message))

    def _on_return(self, message: MemoryReturned) -> None:
        if self._return_callbacks:
            self._pending.append(("return", (return_method(message),
                                             to_pika(message.properties), message.body)))

    def _on_cancelled(self, consumer_tag: str) -> None:
        consumer = self._consumers.get(consumer_tag)
        if consumer is None:
            return
        consumer.cancelled_by_broker = True
        generator = self._generator
        if generator is not None and generator.consumer_tag == consumer_tag:
            generator.pending.append(None)
            self._connection._request_wakeup()
        else:
            self._pending.append(("cancel", consumer_tag))

    def _has_pending(self) -> bool:
        return bool(self._pending)

    def _dispatch_events(self) -> None:
        if self._broker.tracing:  # a trace shows each ack where the program made it
            self._dispatch_pending()
            return
        self._holding = True
        try:
            self._dispatch_pending()
        finally:
            self._holding = False
            if self._held_acks:
                self._flush_acks()

    def _flush_acks(self) -> None:
        """Send the acks held during a dispatch, together: the broker takes them in order
        (an unknown tag closes the channel, as a single ack would)."""
        tags = self._held_acks
        self._held_acks = []
        holding = self._connection._holding_acks
        if self in holding:
            holding.remove(self)
        if tags and not self._closed:
            self._async_checked(self._impl.basic_ack_each, tags)

    def _to_callback(self, message: Message) -> None:
        method, properties, body = message
        consumer = self._consumers.get(method.consumer_tag)
        if consumer is not None and consumer.callback is not None:
            consumer.callback(self, method, properties, body)

    def _dispatch_pending(self) -> None:
        pending = self._pending
        while pending and not self._closed:
            entry = pending[0]
            kind, payload = entry
            if kind == "batch":
                # stays at the head while it runs: a callback may take what is left of it
                while payload and not self._closed:
                    self._to_callback(payload.take())
                    pending = self._pending
                if pending and pending[0] is entry:
                    pending.popleft()
                continue
            pending.popleft()
            if kind == "deliver":
                self._to_callback(payload)
            elif kind == "close":
                self._close_seen = True
                break
            elif kind == "cancel":
                self._consumers.pop(payload, None)
                frame = self._frame(pika.spec.Basic.Cancel(consumer_tag=payload, nowait=True))
                for callback in list(self._cancel_callbacks):
                    callback(frame)
            else:
                method, properties, body = payload
                for callback in list(self._return_callbacks):
                    callback(self, method, properties, body)

    # -- channel --------------------------------------------------------------------

    def close(self, reply_code: int = 0, reply_text: str = "Normal shutdown") -> None:
        self._raise_if_not_open()
        try:
            self._raise_deferred()
            self._cancel_all_consumers()
        finally:
            if not self._closed:
                self._impl.close()
                self._mark_closed(exceptions.ChannelClosedByClient(reply_code, reply_text))

    def flow(self, active: bool) -> bool:
        self._raise_if_not_open()
        self._raise_deferred()
        if not active:
            raise self._failed(AMQPNotImplemented("NOT_IMPLEMENTED - active=false"))
        return True

    def add_on_cancel_callback(self, callback: Callable[..., None]) -> None:
        self._cancel_callbacks.append(callback)

    def add_on_return_callback(self, callback: Callable[..., None]) -> None:
        self._return_callbacks.append(callback)

    # -- publishing -----------------------------------------------------------------

    def confirm_delivery(self) -> None:
        if self._confirming:
            return
        self._sync(self._impl.confirm_select)
        self._confirming = True

    def basic_publish(self, exchange: str, routing_key: str, body: Any,
                      properties: pika.spec.BasicProperties | None = None,
                      mandatory: bool = False) -> None:
        self._raise_if_not_open()
        data = encode_body(body)
        if not (type(exchange) is str and type(routing_key) is str
                and len(exchange) < 64 and len(routing_key) < 64):
            # what pika checks (at most 63 characters always fit in 255 bytes of UTF-8)
            pika.spec.Basic.Publish(exchange=exchange, routing_key=routing_key,
                                    mandatory=mandatory).encode()
        props = from_pika(properties)
        if not self._confirming:
            self._async_checked(self._impl.basic_publish, exchange, routing_key, data, props,
                             mandatory=bool(mandatory))
            return
        result = self._sync(self._impl.basic_publish, exchange, routing_key, data, props,
                            mandatory=bool(mandatory))
        returned: list[ReturnedMessage] = []
        if result.returned:
            method = pika.spec.Basic.Return(reply_code=312, reply_text="NO_ROUTE",
                                            exchange=exchange, routing_key=routing_key)
            returned.append(ReturnedMessage(method, to_pika(props), data))
        if result.nacked:
            raise exceptions.NackError(returned)
        if returned:
            raise exceptions.UnroutableError(returned)

    # -- consuming ------------------------------------------------------------------

    def basic_qos(self, prefetch_size: int = 0, prefetch_count: int = 0,
                  global_qos: bool = False) -> None:
        self._raise_if_not_open()
        validators.zero_or_greater("prefetch_size", prefetch_size)
        validators.zero_or_greater("prefetch_count", prefetch_count)
        m = wire(pika.spec.Basic.Qos(prefetch_size=prefetch_size,
                                      prefetch_count=prefetch_count, global_qos=global_qos))
        self._sync(self._impl.basic_qos, m.prefetch_count, global_qos=m.global_qos,
                   prefetch_size=m.prefetch_size)

    def basic_consume(self, queue: str, on_message_callback: OnMessage,
                      auto_ack: bool = False, exclusive: bool = False,
                      consumer_tag: str | None = None,
                      arguments: dict[str, Any] | None = None) -> str:
        validators.require_string(queue, "queue")
        validators.require_callback(on_message_callback, "on_message_callback")
        return self._consume(queue, auto_ack, exclusive, consumer_tag, arguments,
                             on_message_callback)

    def _consume(self, queue: str, auto_ack: bool, exclusive: bool, consumer_tag: str | None,
                 arguments: dict[str, Any] | None, callback: OnMessage | None) -> str:
        self._raise_if_not_open()
        if not consumer_tag:
            consumer_tag = f"ctag{self._number}.{uuid.uuid4().hex}"
        if consumer_tag in self._consumers:
            raise exceptions.DuplicateConsumerTag(consumer_tag)
        m = wire(pika.spec.Basic.Consume(queue=queue, consumer_tag=consumer_tag,
                                          no_ack=auto_ack, exclusive=exclusive,
                                          arguments=arguments))
        consumer = ConsumerInfo(consumer_tag, bool(auto_ack), callback, callback is None)
        self._consumers[consumer_tag] = consumer
        try:
            self._sync(self._impl.basic_consume, m.queue, m.consumer_tag, no_ack=m.no_ack,
                       exclusive=m.exclusive, arguments=m.arguments)
        except BaseException:
            self._consumers.pop(consumer_tag, None)
            raise
        return consumer_tag

    def _take_pending(self, consumer_tag: str, generator_keeps: int = 0) -> list[Message]:
        """Remove the deliveries not yet dispatched to ``consumer_tag`` (the consume()
        generator keeps its first ``generator_keeps``)."""
        taken: list[Message] = []
        kept: deque[tuple[str, Any]] = deque()
        for kind, payload in self._pending:
            if kind == "deliver" and payload[0].consumer_tag == consumer_tag:
                taken.append(payload)
            elif kind == "batch" and payload.event.consumer_tag == consumer_tag:
                taken.extend(payload.take_all())
            elif not (kind == "cancel" and payload == consumer_tag):
                kept.append((kind, payload))
        self._pending = kept
        generator = self._generator
        if generator is not None and generator.consumer_tag == consumer_tag:
            waiting = list(generator.pending)
            taken.extend(m for m in waiting[generator_keeps:] if m is not None)
            generator.pending = deque(waiting[:generator_keeps])
        return taken

    def basic_cancel(self, consumer_tag: str) -> Sequence[Message]:
        """Cancel a consumer. Deliveries not yet dispatched to it are rejected (requeued)
        for an ``auto_ack=False`` consumer, returned for an ``auto_ack=True`` one.

        For the consume() generator's tag, as with pika, what the generator already holds
        stays there to be yielded (and is rejected by :meth:`cancel`); only what arrives
        after the cancel is treated as for any other consumer."""
        generator = self._generator
        keeps = 0
        if generator is not None and generator.consumer_tag == consumer_tag:
            keeps = len(generator.pending)
        return self._basic_cancel(consumer_tag, keeps)

    def _basic_cancel(self, consumer_tag: str, generator_keeps: int = 0) -> Sequence[Message]:
        consumer = self._consumers.get(consumer_tag)
        if consumer is None:
            return []
        try:
            if not consumer.cancelled_by_broker:
                self._sync(self._impl.basic_cancel, consumer_tag)
            self._connection._pump()
            pending = self._take_pending(consumer_tag, generator_keeps)
            if consumer.auto_ack:
                return pending
            for method, _, _ in pending:
                self._async(self._impl.basic_reject, method.delivery_tag, requeue=True)
            return []
        finally:
            self._consumers.pop(consumer_tag, None)

    def _cancel_all_consumers(self) -> None:
        if self._generator is not None:
            self.cancel()
        for consumer_tag in list(self._consumers):
            self.basic_cancel(consumer_tag)

    def start_consuming(self) -> None:
        if self._connection._dispatch_depth:
            raise exceptions.ReentrancyError(
                "start_consuming may not be called from the scope of another "
                "BlockingConnection or BlockingChannel callback")
        self._raise_if_not_open()
        while self._consumers:
            self._process_data_events(None)

    def stop_consuming(self, consumer_tag: str | None = None) -> None:
        if consumer_tag:
            self.basic_cancel(consumer_tag)
        else:
            self._cancel_all_consumers()

    def _process_data_events(self, time_limit: float | None) -> None:
        self._connection.process_data_events(time_limit=time_limit)
        if self._close_seen:
            self._raise_deferred()
        if self._closed and isinstance(self._closing_reason, exceptions.ChannelClosedByBroker):
            raise self._closing_reason

    def basic_get(self, queue: str, auto_ack: bool = False) -> tuple[Any, Any, Any]:
        """pika registers its get-ok callback before it sends basic.get and clears it
        only on get-ok / get-empty: after a basic_get that raised, every later one on
        this channel raises ``DuplicateGetOkCallback``."""
        validators.require_string(queue, "queue")
        if self._get_pending:
            raise exceptions.DuplicateGetOkCallback()
        self._get_pending = True
        if self._connection.is_closed:
            raise exceptions.ConnectionWrongStateError(FRAME_ON_CLOSED_CONNECTION)
        m = wire(pika.spec.Basic.Get(queue=queue, no_ack=auto_ack))
        self._raise_if_not_open()
        delivery = self._sync(self._impl.basic_get, m.queue, no_ack=m.no_ack)
        self._get_pending = False
        if delivery is None:
            return None, None, None
        return get_ok_method(delivery), to_pika(delivery.properties), delivery.body

    # -- acknowledgements -----------------------------------------------------------

    def basic_ack(self, delivery_tag: int = 0, multiple: bool = False) -> None:
        if (self._holding and not multiple and type(delivery_tag) is int
                and 0 < delivery_tag <= _MAX_TAG and not self._closed):
            # in a consumer callback: held until the dispatch ends or the program does
            # anything else on this connection, then sent with the others
            if not self._held_acks:
                self._connection._holding_acks.append(self)
            self._held_acks.append(delivery_tag)
            return
        self._raise_if_not_open()
        if type(delivery_tag) is int and 0 <= delivery_tag <= _MAX_TAG:
            self._async_checked(self._impl.basic_ack, delivery_tag, multiple=bool(multiple))
            return
        m = wire(pika.spec.Basic.Ack(delivery_tag=delivery_tag, multiple=multiple))
        self._async(self._impl.basic_ack, m.delivery_tag, multiple=m.multiple)

    def basic_nack(self, delivery_tag: int = 0, multiple: bool = False,
                   requeue: bool = True) -> None:
        self._raise_if_not_open()
        m = wire(pika.spec.Basic.Nack(delivery_tag=delivery_tag, multiple=multiple,
                                       requeue=requeue))
        self._async(self._impl.basic_nack, m.delivery_tag, multiple=m.multiple,
                    requeue=m.requeue)

    def basic_reject(self, delivery_tag: int = 0, requeue: bool = True) -> None:
        self._raise_if_not_open()
        if not isinstance(delivery_tag, int):
            raise TypeError("delivery_tag must be an integer")
        m = wire(pika.spec.Basic.Reject(delivery_tag=delivery_tag, requeue=requeue))
        self._async(self._impl.basic_reject, m.delivery_tag, requeue=m.requeue)

    def basic_recover(self, requeue: bool = False) -> None:
        self._raise_if_not_open()
        self._raise_deferred()
        if not requeue:
            raise self._failed(AMQPNotImplemented("NOT_IMPLEMENTED - requeue=false"))
        self._sync(self._impl.basic_recover, requeue=True)
