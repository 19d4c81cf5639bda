"""RPC, the caller's side: correlation ids, one reply queue, timeouts and retries.

An :class:`RpcClient` belongs to a producer and shares its transport and lock. Each call
is published with a fresh ``correlation_id`` and ``reply_to`` set to the client's reply
queue: RabbitMQ's direct reply-to (``amq.rabbitmq.reply-to``) when the transport supports
it, else one exclusive, server-named queue per client. Replies are consumed with
auto-ack and matched to calls by correlation id.

Waiting pumps the transport (``process_events``): on a transport shared with a processor,
a single thread runs the whole round trip, the request's handler included. Several threads
may wait at once; one of them pumps at a time and the others are woken when their reply is
in. Time is read from an injected clock, so a :class:`~msgbus.clock.ManualClock` drives
timeouts in tests.

A call that gets no reply within ``timeout`` is published again (with a new correlation
id), up to ``max_retry`` more times; a reply to any of its attempts completes it. After
the last attempt it completes with ``MessageResultException("TimeoutError", ...)``.
Replies that come after their call completed are discarded.
"""

from __future__ import annotations

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
        description: str,
    ) -> None:
        self._client = client
        self.exchange = exchange
        self.routing_key = routing_key
        self.body = body
        self.timeout = timeout
        self.max_retry = max_retry
        self.description = description
        self.attempts = 0
        self.correlation_ids: list[str] = []
        self.deadline = 0.0
        self.result: MessageResult | None = None

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
    ) -> None:
        self._transport = transport
        self._encoder = encoder
        self._clock = clock
        self._lock = lock
        self._persistent = persistent
        self._cond = threading.Condition()
        self._pending: dict[str, PendingReply] = {}
        self._pumping = False
        self._reply_to: str | None = None
        self._reply_consumer: ConsumerHandle | None = None

    # -- the reply queue ---------------------------------------------------------------

    def reply_queue(self) -> str:
        """The queue replies come to, consumed; made on first use (call with the lock)."""
        if self._reply_consumer is not None and self._reply_consumer.active:
            assert self._reply_to is not None
            return self._reply_to
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
        if not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ValidationError(f"RPC _timeout must be a number > 0 (seconds), got {timeout!r}")
        if not (isinstance(max_retry, int) and max_retry >= 0):
            raise ValidationError(f"RPC _max_retry must be an integer >= 0, got {max_retry!r}")
        call = PendingReply(
            self,
            exchange,
            routing_key,
            self._encoder.encode(message.body),
            float(timeout),
            max_retry,
            f"{message.type} {message.name!r} to exchange {exchange!r} with key {routing_key!r}",
        )
        self._publish_attempt(call)
        return call

    def _publish_attempt(self, call: PendingReply) -> None:
        correlation_id = f"{_prefix}.{os.getpid()}.{next(_ids)}"
        with self._lock:
            reply_to = self.reply_queue()
            with self._cond:
                call.attempts += 1
                call.correlation_ids.append(correlation_id)
                call.deadline = self._clock.monotonic() + call.timeout
                self._pending[correlation_id] = call
            try:
                self._transport.publish(
                    call.exchange,
                    call.routing_key,
                    call.body,
                    Properties(
                        content_type=self._encoder.content_type,
                        correlation_id=correlation_id,
                        reply_to=reply_to,
                        delivery_mode=DeliveryMode.PERSISTENT if self._persistent else None,
                    ),
                )
            except BaseException:
                self._finish(call, None)
                raise

    def _on_reply(self, delivery: Delivery) -> None:
        correlation_id = delivery.properties.correlation_id
        with self._cond:
            call = self._pending.get(correlation_id) if correlation_id else None
        if call is None:
            log.debug("discarding a reply nobody waits for (correlation_id=%r)", correlation_id)
            return
        self._finish(call, self._decode_reply(delivery))

    def _decode_reply(self, delivery: Delivery) -> MessageResult:
        try:
            body = decoder_for(delivery.properties.content_type, self._encoder).decode(
                delivery.body
            )
            reply = Message.from_dict(body)
        except (DecodeError, InvalidMessage) as exc:
            return MessageResultError(f"malformed RPC reply: {exc}")
        if not isinstance(reply, MessageResult):
            return MessageResultError(
                f"malformed RPC reply: expected a result message, got type {reply.type!r} "
                f"name {reply.name!r}"
            )
        return reply

    def _finish(self, call: PendingReply, result: MessageResult | None) -> None:
        with self._cond:
            for correlation_id in call.correlation_ids:
                self._pending.pop(correlation_id, None)
            if result is not None and call.result is None:
                call.result = result
            self._cond.notify_all()

    def _expire(self, call: PendingReply) -> None:
        """The current attempt timed out: publish again, or give up after the last one."""
        with self._cond:
            if call.done or self._clock.monotonic() < call.deadline:
                return
            last = call.attempts > call.max_retry
        if last:
            self._finish(
                call,
                MessageResultException(
                    "TimeoutError",
                    f"no reply to RPC {call.description} after {call.attempts} attempt(s) "
                    f"of {call.timeout:g}s each",
                ),
            )
            return
        log.info("RPC %s timed out after %gs; retrying", call.description, call.timeout)
        self._publish_attempt(call)

    # -- waiting -----------------------------------------------------------------------

    def poll(self, call: PendingReply) -> bool:
        if not call.done:
            with self._lock:
                self._transport.process_events(0.0)
            if not call.done:
                self._expire(call)
        return call.done

    def wait(self, call: PendingReply) -> MessageResult:
        while True:
            with self._cond:
                if call.result is not None:
                    return call.result
                expired = self._clock.monotonic() >= call.deadline
                if not expired:
                    if self._pumping:
                        self._cond.wait(PUMP_SLICE)
                        continue
                    self._pumping = True
            if expired:
                self._expire(call)
                continue
            try:
                with self._lock:
                    self._transport.process_events(PUMP_SLICE)
            except BaseException:
                self._finish(call, None)  # the caller gets the error; forget the call
                raise
            finally:
                with self._cond:
                    self._pumping = False
                    self._cond.notify_all()

    def pending_count(self) -> int:
        with self._cond:
            return len({id(call) for call in self._pending.values()})

    def close(self) -> None:
        """Stop consuming replies (pending calls then time out)."""
        with self._lock:
            if self._reply_consumer is not None and self._reply_consumer.active:
                self._reply_consumer.cancel()
            self._reply_consumer = None

