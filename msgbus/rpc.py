"""RPC, the caller's side: correlation ids, one reply queue, timeouts and retries.

An :class:`RpcClient` belongs to a producer and shares its transport and lock. Each call
is published with a fresh ``correlation_id`` and ``reply_to`` set to the client's reply
queue: RabbitMQ's direct reply-to (``amq.rabbitmq.reply-to``) when the transport supports
it, else one exclusive, server-named queue per client. Replies are consumed with
auto-ack and matched to calls by correlation id.

With ``reply_queue_per_call=True`` (a producer's ``postage_compatible``) each attempt
gets its own exclusive, server-named reply queue instead, as Postage 1.x callers do: any
reply that comes to it answers that call, with or without a correlation id (Postage 1.x
servers do not copy it). The queue's consumer is cancelled, and the queue so deleted, once
the call is done.

Waiting pumps the transport (``process_events``): on a transport shared with a processor,
a single thread runs the whole round trip, the request's handler included. Several threads
may wait at once; one of them pumps at a time and the others sleep until it has pumped (a
lone caller takes no condition variable at all). Time is read from an injected clock, so a
:class:`~msgbus.clock.ManualClock` drives timeouts in tests.

A call that gets no reply within ``timeout`` is published again (with a new correlation
id), up to ``max_retry`` more times, each time with a WARNING log line; a reply to any of
its attempts completes it. After the last attempt it completes with
``MessageResultException("TimeoutError", ...)``, logged at WARNING too. Replies that come
after their call completed are discarded.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import threading
import uuid

from msgbus.clock import Clock
from msgbus.codecs import DecodeError, Encoder, decoder_for
from msgbus.errors import ValidationError
from msgbus.messages import (
    InvalidMessage,
    Message,
    MessageResult,
    MessageResultError,
    MessageResultException,
)
from msgbus.transport import ConsumerHandle, Transport
from msgbus.values import Delivery, DeliveryMode, Properties

__all__ = ["DIRECT_REPLY_TO", "PendingReply", "RpcClient"]

log = logging.getLogger("msgbus.rpc")

DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"
#: The longest a waiting thread pumps the transport at once (real seconds).
PUMP_SLICE = 0.05

_ids = itertools.count(1)
_prefix = uuid.uuid4().hex[:12]
_id_prefix = f"{_prefix}.{os.getpid()}."


def _new_id_prefix() -> None:
    """A forked child numbers its calls under its own pid."""
    global _id_prefix
    _id_prefix = f"{_prefix}.{os.getpid()}."


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_id_prefix)


class PendingReply:
    """An RPC in flight. ``wait()`` blocks for the result; ``poll()`` never blocks."""

    def __init__(
        self,
        client: RpcClient,
        exchange: str,
        routing_key: str,
        body: bytes,
        timeout: float,
        max_retry: int,
        message_type: str,
        message_name: str,
    ) -> None:
        self._client = client
        self.exchange = exchange
        self.routing_key = routing_key
        self.body = body
        self.timeout = timeout
        self.max_retry = max_retry
        self.message_type = message_type
        self.message_name = message_name
        self.attempts = 0
        self.correlation_ids: list[str] = []
        self.deadline = 0.0
        self.result: MessageResult | None = None
        #: The consumers of this call's own reply queues (``reply_queue_per_call``).
        self.reply_consumers: list[ConsumerHandle] = []

    @property
    def description(self) -> str:
        """What the call is, for logs and the timeout message."""
        return (
            f"{self.message_type} {self.message_name!r} to exchange {self.exchange!r} "
            f"with key {self.routing_key!r}"
        )

    @property
    def correlation_id(self) -> str:
        """The correlation id of the latest attempt."""
        return self.correlation_ids[-1]

    @property
    def done(self) -> bool:
        return self.result is not None

    def poll(self) -> bool:
        """Process what has arrived, retry or give up if the attempt timed out; never blocks."""
        return self._client.poll(self)

    def wait(self) -> MessageResult:
        """Block until the reply, or the ``TimeoutError`` result after the last attempt."""
        return self._client.wait(self)

    def __repr__(self) -> str:
        state = "done" if self.done else f"attempt {self.attempts}/{self.max_retry + 1}"
        return f"<PendingReply {self.description} {state}>"


class RpcClient:
    """The reply side of a producer's RPCs (see the module docstring)."""

    def __init__(
        self,
        transport: Transport,
        *,
        encoder: Encoder,
        clock: Clock,
        lock: threading.RLock,
        persistent: bool = False,
        reply_queue_per_call: bool = False,
    ) -> None:
        self._transport = transport
        self._encoder = encoder
        self._content_type = encoder.content_type
        self._clock = clock
        self._lock = lock
        self._delivery_mode = DeliveryMode.PERSISTENT if persistent else None
        self._mutex = threading.Lock()  # the pending calls and their results
        self._cond = threading.Condition(self._mutex)  # waiters that do not pump
        self._waiters = 0
        self._pump = threading.Lock()  # held by the thread that pumps the transport
        self._pending: dict[str, PendingReply] = {}
        self._reply_to: str | None = None
        self._reply_consumer: ConsumerHandle | None = None
        self._per_call = reply_queue_per_call
        self._spent: list[ConsumerHandle] = []  # per-call consumers of finished calls

    # -- the reply queue ---------------------------------------------------------------

    def reply_queue(self) -> str:
        """The queue replies come to, consumed; made on first use (call with the lock)."""
        consumer, reply_to = self._reply_consumer, self._reply_to
        if consumer is not None and consumer.active and reply_to is not None:
            return reply_to
        if self._transport.supports_direct_reply_to:
            queue = DIRECT_REPLY_TO
        else:
            queue = self._transport.declare_queue("", exclusive=True, auto_delete=True).name
        self._reply_consumer = self._transport.consume(queue, self._on_reply, auto_ack=True)
        self._reply_to = queue
        return queue

    # -- calls -------------------------------------------------------------------------

    def start(
        self,
        exchange: str,
        routing_key: str,
        message: Message,
        *,
        timeout: float,
        max_retry: int,
    ) -> PendingReply:
        """Publish ``message`` as an RPC; return the call, in flight."""
        return self.start_encoded(
            exchange,
            routing_key,
            self._encoder.encode(message.body),
            message.type,
            message.name,
            timeout=timeout,
            max_retry=max_retry,
        )

    def start_encoded(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        message_type: str,
        message_name: str,
        *,
        timeout: float,
        max_retry: int,
    ) -> PendingReply:
        """:meth:`start` for a message already encoded (``body``), of that type and name."""
        if not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ValidationError(f"RPC _timeout must be a number > 0 (seconds), got {timeout!r}")
        if not (isinstance(max_retry, int) and max_retry >= 0):
            raise ValidationError(f"RPC _max_retry must be an integer >= 0, got {max_retry!r}")
        call = PendingReply(
            self, exchange, routing_key, body, float(timeout), max_retry, message_type,
            message_name,
        )
        self._publish_attempt(call)
        return call

    def _publish_attempt(self, call: PendingReply) -> None:
        correlation_id = _id_prefix + str(next(_ids))
        with self._lock:
            consumer = self._reply_consumer
            reply_to: str | None
            if self._per_call:
                reply_to = self._call_queue(call)
            elif consumer is not None and consumer.active:
                reply_to = self._reply_to
            else:
                reply_to = self.reply_queue()
            with self._mutex:
                if call.result is not None:  # answered while this attempt was due
                    self._spent.extend(call.reply_consumers)
                    call.reply_consumers = []
                    return
                call.attempts += 1
                call.correlation_ids.append(correlation_id)
                call.deadline = self._clock.monotonic() + call.timeout
                self._pending[correlation_id] = call
            try:
                self._transport.publish(
                    call.exchange,
                    call.routing_key,
                    call.body,
                    # positional (half the cost of keywords): content_type, -, -,
                    # delivery_mode, -, correlation_id, reply_to
                    Properties(self._content_type, None, None, self._delivery_mode, None,
                               correlation_id, reply_to),
                )
            except BaseException:
                self._finish(call, None)
                raise

    def _call_queue(self, call: PendingReply) -> str:
        """A new exclusive reply queue for one attempt of ``call``, consumed (with the lock)."""
        queue = self._transport.declare_queue("", exclusive=True, auto_delete=True).name
        call.reply_consumers.append(self._transport.consume(
            queue, functools.partial(self._on_call_reply, call), auto_ack=True))
        return queue

    def _on_call_reply(self, call: PendingReply, delivery: Delivery) -> None:
        """A reply on ``call``'s own queue: it answers the call, correlation id or not."""
        self._finish(call, self._decode_reply(delivery))

    def _on_reply(self, delivery: Delivery) -> None:
        correlation_id = delivery.properties.correlation_id
        call = self._pending.get(correlation_id) if correlation_id else None
        if call is None:
            if not correlation_id:
                log.warning(
                    "discarding an RPC reply without a correlation_id: on a shared reply "
                    "queue it cannot be matched to its call (a Postage 1.x server sends "
                    "such replies: make the producer with postage_compatible=True)")
            else:
                log.debug("discarding a reply nobody waits for (correlation_id=%r)",
                          correlation_id)
            return
        self._finish(call, self._decode_reply(delivery))

    def _decode_reply(self, delivery: Delivery) -> MessageResult:
        content_type = delivery.properties.content_type
        try:
            decoder = (
                self._encoder
                if content_type == self._content_type
                else decoder_for(content_type, self._encoder)
            )
            reply = Message.from_wire(decoder.decode(delivery.body))
        except (DecodeError, InvalidMessage) as exc:
            return MessageResultError(f"malformed RPC reply: {exc}")
        if not isinstance(reply, MessageResult):
            return MessageResultError(
                f"malformed RPC reply: expected a result message, got type {reply.type!r} "
                f"name {reply.name!r}"
            )
        return reply

    def _finish(self, call: PendingReply, result: MessageResult | None) -> None:
        with self._mutex:
            pending = self._pending
            for correlation_id in call.correlation_ids:
                pending.pop(correlation_id, None)
            if result is not None and call.result is None:
                call.result = result
            if call.reply_consumers:  # cancelled by the waiting thread, outside callbacks
                self._spent.extend(call.reply_consumers)
                call.reply_consumers = []
            if self._waiters:
                self._cond.notify_all()

    def _expire(self, call: PendingReply) -> None:
        """The current attempt timed out: publish again, or give up after the last one."""
        with self._mutex:
            if call.result is not None or self._clock.monotonic() < call.deadline:
                return
            last = call.attempts > call.max_retry
        if last:
            text = (f"no reply to RPC {call.description} after {call.attempts} attempt(s) "
                    f"of {call.timeout:g}s each")
            log.warning("%s: giving up (is anything consuming that queue?)", text)
            self._finish(call, MessageResultException("TimeoutError", text))
            return
        log.warning(
            "no reply to RPC %s within %gs (attempt %d of %d); sending it again",
            call.description, call.timeout, call.attempts, call.max_retry + 1,
        )
        self._publish_attempt(call)

    # -- waiting -----------------------------------------------------------------------

    def poll(self, call: PendingReply) -> bool:
        if call.result is None:
            with self._lock:
                self._transport.process_events(0.0)
            if call.result is None:
                self._expire(call)
        if self._spent:
            self._cancel_spent()
        return call.result is not None

    def _cancel_spent(self) -> None:
        """Cancel the reply consumers of finished calls (their queues go with them)."""
        with self._lock:
            with self._mutex:
                spent, self._spent = self._spent, []
            for handle in spent:
                if handle.active:
                    handle.cancel()

    def wait(self, call: PendingReply) -> MessageResult:
        clock = self._clock
        while True:
            result = call.result
            if result is not None:
                if self._spent:
                    self._cancel_spent()
                return result
            if clock.monotonic() >= call.deadline:
                self._expire(call)
            elif self._pump.acquire(blocking=False):
                try:
                    if call.result is None:
                        with self._lock:
                            self._transport.process_events(PUMP_SLICE)
                except BaseException:
                    self._finish(call, None)  # the caller gets the error; forget the call
                    raise
                finally:
                    self._pump.release()
                    if self._waiters:  # another thread waits for its reply: wake it
                        with self._cond:
                            self._cond.notify_all()
            else:  # another thread pumps: sleep until it has, or until our reply is in
                with self._cond:
                    self._waiters += 1
                    try:
                        if call.result is None and self._pump.locked():
                            self._cond.wait(PUMP_SLICE)
                    finally:
                        self._waiters -= 1

    def pending_count(self) -> int:
        with self._mutex:
            return len({id(call) for call in self._pending.values()})

    def close(self) -> None:
        """Stop consuming replies (pending calls then time out)."""
        self._cancel_spent()
        with self._lock:
            if self._reply_consumer is not None and self._reply_consumer.active:
                self._reply_consumer.cancel()
            self._reply_consumer = None
