"""Recovery after a lost connection: reconnect with backoff, re-declare, restart consumers."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, TypeVar

import pika
from pika.adapters.blocking_connection import BlockingChannel

from msgbus import errors
from msgbus.recovery import ConnectionEvent, ConnectionState, RecoveryPolicy
from transports.rabbitmq import _errors
from transports.rabbitmq._topology import ExchangeDecl, QueueDecl, declare_binding
from transports.rabbitmq.url import HostPort, resolvable

if TYPE_CHECKING:
    from transports.rabbitmq._consumer import RabbitMQConsumer
    from transports.rabbitmq.transport import RabbitMQTransport

__all__ = ["Recovery"]

log = logging.getLogger("transports.rabbitmq")
T = TypeVar("T")
#: An exclusive queue of the lost connection may linger a moment on the broker.
_LOCKED_RETRIES = 50
_LOCKED_DELAY = 0.1
#: A connection lost again within this many seconds of its recovery is a streak: the
#: next reconnection waits as a later attempt would (see Recovery.recover).
_STREAK_WINDOW = 1.0


class Recovery:
    """Brings a :class:`RabbitMQTransport` back after its connection was lost."""

    def __init__(self, transport: RabbitMQTransport, policy: RecoveryPolicy) -> None:
        self._t = transport
        self.policy = policy
        self.sleep: Callable[[float], None] = time.sleep
        self._reached = transport._url
        self._recovered_at = float("-inf")
        self._streak = 0  # recoveries in a row, each lost again at once

    def reached(self) -> str:
        """The node the transport is (or was last) connected to, as a redacted URL.

        A URL with several hosts names the one that answered, so that the connection
        events say where a client moved: ``amqp://app:***@rabbit-2:5672/orders``.
        """
        t = self._t
        connection = t._connection
        # pika keeps the parameters of the host that answered on its connection object
        params = getattr(getattr(connection, "_impl", None), "params", None)
        host, port = getattr(params, "host", None), getattr(params, "port", None)
        if isinstance(host, str) and isinstance(port, int):
            config = dataclasses.replace(t._config, hosts=(HostPort(host, port),))
            self._reached = config.redacted_url()
        return self._reached

    def after_nack(self, channel: BlockingChannel | None) -> None:
        """A ``publish`` on ``channel`` was nacked: the next one goes on a new channel.

        On RabbitMQ 3.10 a channel that first publishes to a quorum queue just after the
        queue's leader died nacks every later publish to it until that node is back
        (checked on a three-node cluster), while a new channel is served by the new
        leader at once. So the transport replaces the channel, unless something lives on
        it that a new one would lose: consumers, or messages taken with ``get`` and not
        settled yet (then it stays, and publishing from a transport of its own avoids it).
        """
        t = self._t
        if channel is None or channel is not t._channel or t._consumers:
            return
        if t._acks.open or t._acks.held:
            return
        t._channel = None
        _close_quietly(channel, t._url)

    def after_batch_nack(self) -> None:
        """A batch had nacked messages: the next batch goes on a new channel (as above)."""
        t = self._t
        confirms, t._confirms = t._confirms, None
        if confirms is not None:
            _close_quietly(confirms.channel, t._url)

    def recover(self, cause: BaseException) -> None:
        """Reconnect and restore, or close the transport and raise ``ConnectionLost``."""
        t = self._t
        lost = self.reached()
        self._discard()
        error = cause if isinstance(cause, errors.MsgbusError) else _errors.translate(cause)
        t._emit(ConnectionEvent(ConnectionState.LOST, lost, error=error))
        last: BaseException = cause
        # A connection that drops again right after it came back (RabbitMQ closes it with
        # 541 when a basic.get meets a quorum queue whose leader just went away) is not
        # opened again at once each time: the streak counts as earlier attempts.
        quick = time.monotonic() - self._recovered_at < _STREAK_WINDOW
        self._streak = self._streak + 1 if quick else 0
        attempt = 0
        while attempt < self.policy.max_attempts:
            attempt += 1
            delay = self.policy.delay(attempt + self._streak)
            if delay:
                self.sleep(delay)
            try:
                t._connection = pika.BlockingConnection(resolvable(t._params))
                t._open_channel()
                renamed = self._restore()
            except _errors.CONNECT_ERRORS as exc:
                last = exc
                log.warning(
                    "reconnecting to %s, attempt %d of %d failed: %r",
                    t._url, attempt, self.policy.max_attempts, exc,
                )
                self._discard()
                continue
            self._recovered_at = time.monotonic()
            node = self.reached()
            log.info("reconnected to %s after %d attempt(s)", node, attempt)
            t._emit(ConnectionEvent(
                ConnectionState.RECOVERED, node, attempts=attempt, renamed_queues=renamed
            ))
            return
        t._closed = True
        for consumer in t._consumers.values():
            consumer._stopped()
        t._consumers.clear()
        failure = errors.ConnectionLost(
            f"the connection to {t._url} was lost and could not be recovered "
            f"after {attempt} attempt(s): {_errors.translate(last)}"
        )
        t._emit(ConnectionEvent(ConnectionState.FAILED, lost, attempts=attempt, error=failure))
        raise failure from last

    def _discard(self) -> None:
        t = self._t
        t._channel = t._replies = t._confirms = None
        connection, t._connection = t._connection, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except _errors.PIKA_ERRORS as exc:
                log.debug("closing the lost connection to %s: %r", t._url, exc)

    def _step(self, what: str, op: Callable[[BlockingChannel], T]) -> tuple[bool, T | None]:
        """Run one restoring ``op``; a channel error is logged and skipped."""
        t = self._t
        for _ in range(_LOCKED_RETRIES):
            channel = t._channel if t._channel is not None else t._open_channel()
            try:
                return True, op(channel)
            except pika.exceptions.ChannelClosedByBroker as exc:
                t._channel = None
                if exc.reply_code == errors.ResourceLocked.reply_code:
                    self.sleep(_LOCKED_DELAY)
                    continue
                log.warning("recovery could not restore %s: %s", what, exc.reply_text)
                return False, None
        log.warning("recovery could not restore %s: it stayed locked", what)
        return False, None

    def _restore(self) -> dict[str, str]:
        """Declare the recorded topology again and restart the consumers."""
        t = self._t
        topology = t._topology
        for x in list(topology.exchanges.values()):
            self._step(f"exchange {x.name!r}", partial(_declare_exchange, x))
        renamed: dict[str, str] = {}
        for q in list(topology.queues.values()):
            ok, new_name = self._step(f"queue {q.name!r}", partial(_declare_queue, q))
            if ok and new_name is not None and q.server_named:
                topology.rename(q.name, new_name)
                renamed[q.name] = new_name
        for b in list(topology.bindings.values()):
            self._step(f"binding {b.source!r} -> {b.destination!r}",
                       partial(declare_binding, binding=b))
        self._restart_consumers()
        return renamed

    def _restart_consumers(self) -> None:
        """Start every consumer again; one that fails closes the channel, so start over."""
        t = self._t
        pending = list(t._consumers.values())
        t._consumers.clear()
        try:
            self._start_all(pending)
        finally:  # a lost connection leaves the rest for the next attempt
            for consumer in pending:
                if consumer.active:
                    t._consumers.setdefault(consumer.consumer_tag, consumer)

    def _start_all(self, pending: list[RabbitMQConsumer]) -> None:
        t = self._t
        while pending:
            started = []
            for consumer in pending:
                consumer._started(consumer.consumer_tag, t._topology.resolve(consumer.queue))
                ok, _ = self._step(
                    f"consumer {consumer.consumer_tag!r} on queue {consumer.queue!r}",
                    partial(t._start_consumer, consumer=consumer),
                )
                if ok:
                    started.append(consumer)
                    continue
                consumer._stopped()
                for done in started:
                    t._consumers.pop(done.consumer_tag, None)
                pending.remove(consumer)
                break
            else:
                return


def _declare_exchange(x: ExchangeDecl, channel: BlockingChannel) -> None:
    channel.exchange_declare(
        x.name, x.type, durable=x.durable, auto_delete=x.auto_delete, internal=x.internal,
        arguments=dict(x.arguments) if x.arguments else None,
    )


def _declare_queue(q: QueueDecl, channel: BlockingChannel) -> str:
    frame = channel.queue_declare(
        "" if q.server_named else q.name, durable=q.durable, exclusive=q.exclusive,
        auto_delete=q.auto_delete, arguments=dict(q.arguments) if q.arguments else None,
    )
    name: str = frame.method.queue
    return name


def _close_quietly(channel: BlockingChannel, where: str) -> None:
    if channel.is_open:
        try:
            channel.close()
        except _errors.PIKA_ERRORS as exc:  # a lost connection shows at the next call
            log.debug("closing a channel to %s: %r", where, exc)
