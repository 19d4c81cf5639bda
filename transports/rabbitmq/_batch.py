"""``publish_batch`` on RabbitMQ: many messages in flight, their confirms awaited together.

pika's ``BlockingChannel.basic_publish`` waits for each message's confirm before it
returns, so a producer sends one message per round trip to the broker. A batch goes out
instead on a channel of its own in confirm mode (:class:`ConfirmChannel`), through that
channel's asynchronous pika implementation: every message is written (the socket flushed
every :data:`WRITE_EVERY` messages), then the confirms are awaited together. Messages
published with ``publish`` were confirmed before it returned, so a batch never overtakes
them.

**Sequence numbers.** After ``confirm.select`` the broker numbers the messages of a
channel 1, 2, 3, ...; a ``basic.ack`` or ``basic.nack`` names one of them, or with
``multiple`` every one up to it.

**Returns.** RabbitMQ sends the ``basic.return`` of an unroutable ``mandatory`` message
before its ``basic.ack``, but a return names no sequence number: it is matched to the
earliest unconfirmed message of the batch not yet returned with the same exchange, routing
key, body and headers (or, if none has equal headers, the same exchange, key and body).
Messages alike in all of that are routed alike, so which of them it names makes no
difference.

**Failures.** A nacked or returned message is reported as ``publish`` would report it
(:class:`~msgbus.errors.PublishNacked`, :class:`~msgbus.errors.Unroutable`). When the
broker closes the batch channel (an unknown exchange, say) every message not confirmed by
then carries that channel error: the one that caused it and the later ones, which the
broker dropped, and the earlier ones whose confirms it dropped with the channel (queues
confirm asynchronously, so those were most likely delivered). The transport's own channel
and its consumers are not affected. When the connection is lost the transport
recovers and the unconfirmed messages carry :class:`~msgbus.errors.ConnectionLost` — or,
with ``republish_unconfirmed=True``, are published again (at least once).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pika
from pika.adapters.blocking_connection import BlockingChannel

from msgbus import checks, errors
from msgbus.values import Publication
from transports.rabbitmq import _errors
from transports.rabbitmq._properties import to_pika

if TYPE_CHECKING:
    from transports.rabbitmq.transport import RabbitMQTransport

__all__ = ["WRITE_EVERY", "ConfirmChannel", "publish_batch"]

log = logging.getLogger("transports.rabbitmq")

#: Messages written to pika's buffer before it is flushed to the socket.
WRITE_EVERY = 256
_MAX_ATTEMPTS = 3

Prepared = tuple[Publication, "pika.BasicProperties | None"]


class ConfirmChannel:
    """A channel in confirm mode whose confirms this object tracks (see the module doc)."""

    def __init__(self, channel: BlockingChannel) -> None:
        self.channel = channel
        self._impl: Any = channel._impl  # pika's asynchronous channel under the blocking one
        self._seq = 0  # the sequence number of the last message published on the channel
        self._unconfirmed: dict[int, int] = {}  # sequence number -> index in the batch
        self._returned: dict[int, tuple[int, str]] = {}  # sequence number -> code, text
        self._batch: list[Prepared] = []
        self._failed: dict[int, errors.MsgbusError] = {}
        self._sent = 0
        selected: list[object] = []
        self._impl.confirm_delivery(ack_nack_callback=self._on_confirm, callback=selected.append)
        self._impl.add_on_return_callback(self._on_return)
        channel._flush_output(lambda: bool(selected))

    def publish(self, batch: list[Prepared], mandatory: bool) -> None:
        """Publish ``batch`` and wait for its confirms; :attr:`failed` then holds the
        refused ones, by index in ``batch``.

        pika's errors (channel or connection gone) propagate; :meth:`unsettled` then tells
        which messages are not known to be confirmed, and :attr:`failed` what is known.
        """
        self._batch, self._failed, self._sent = batch, {}, 0
        self._returned.clear()
        unconfirmed, publish, channel = self._unconfirmed, self._impl.basic_publish, self.channel
        for index, (message, properties) in enumerate(batch):
            publish(message.exchange, message.routing_key, message.body, properties, mandatory)
            self._seq += 1
            unconfirmed[self._seq] = index
            self._sent = index + 1
            if self._sent % WRITE_EVERY == 0:
                channel._flush_output()
        channel._flush_output(lambda: not unconfirmed)

    @property
    def failed(self) -> dict[int, errors.MsgbusError]:
        """The messages of the batch refused so far (nacked or returned), by index."""
        return self._failed

    def unsettled(self) -> list[int]:
        """The indices of the batch neither confirmed nor refused yet (sent or not)."""
        return sorted(self._unconfirmed.values()) + list(range(self._sent, len(self._batch)))

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tag: int = method.delivery_tag
        unconfirmed = self._unconfirmed
        if method.multiple:
            settled = []
            for seq in unconfirmed:  # in ascending order: the order they were added
                if seq > tag:
                    break
                settled.append(seq)
        else:
            settled = [tag] if tag in unconfirmed else []
        nacked = isinstance(method, pika.spec.Basic.Nack)
        for seq in settled:
            index = unconfirmed.pop(seq)
            message = self._batch[index][0]
            if nacked:
                self._failed[index] = errors.PublishNacked(message.exchange, message.routing_key)
            elif seq in self._returned:
                code, text = self._returned.pop(seq)
                self._failed[index] = errors.Unroutable(
                    message.exchange, message.routing_key, code, text)

    def _on_return(self, _channel: Any, method: Any, properties: Any, body: bytes) -> None:
        headers = properties.headers if properties is not None else None
        for compare_headers in (True, False):
            for seq, index in self._unconfirmed.items():
                if seq in self._returned:
                    continue
                message, sent = self._batch[index]
                if (message.exchange == method.exchange
                        and message.routing_key == method.routing_key
                        and message.body == body
                        and (not compare_headers
                             or (sent.headers if sent is not None else None) == headers)):
                    self._returned[seq] = (method.reply_code, method.reply_text)
                    return
        log.warning("a returned message matches no unconfirmed message of the batch "
                    "(exchange %r, routing key %r)", method.exchange, method.routing_key)


def publish_batch(t: RabbitMQTransport, publications: object, mandatory: bool) -> None:
    """:meth:`RabbitMQTransport.publish_batch` (see the module documentation)."""
    batch = checks.require_publications(publications)
    if not batch:
        return
    prepared = _prepare(t, batch)
    if not t._confirm:
        t._run(lambda channel: _write(channel, prepared, mandatory),
               "retry" if t._republish else "raise")
        return
    failed: dict[int, errors.MsgbusError] = {}
    remaining = list(range(len(batch)))  # indices in batch still to publish
    for attempt in range(1, _MAX_ATTEMPTS + 1):
        confirms: ConfirmChannel | None = None
        unsettled: list[int] = []  # indices in batch the attempt left unconfirmed
        error: errors.MsgbusError | None = None  # theirs; None: publish them again
        try:
            t._run(lambda _channel: None, "retry")  # recovers; held acks go first
            confirms = _confirm_channel(t)
            confirms.publish([prepared[i] for i in remaining], mandatory)
        except _errors.PIKA_ERRORS as exc:
            t._confirms = None
            channel = confirms.channel if confirms is not None else None
            reason = t._close_reason(channel, exc)
            unsettled = remaining
            if confirms is not None:
                unsettled = [remaining[i] for i in confirms.unsettled()]
            if channel is not None and channel.is_open:  # its confirms are lost on us
                _close_quietly(channel)
            error = _failure(t, reason)
        if confirms is not None:  # what the broker refused before it ended
            failed.update({remaining[i]: refused for i, refused in confirms.failed.items()})
        if not unsettled:
            break
        if error is None and attempt < _MAX_ATTEMPTS:  # republish them
            remaining = unsettled
            continue
        if error is None:
            error = errors.ConnectionLost(
                f"the connection to {t._url} was lost {_MAX_ATTEMPTS} times during one batch")
        failed.update({index: error for index in unsettled})
        break
    if failed:
        raise errors.PublishBatchFailed(
            [(index, batch[index], failed[index]) for index in sorted(failed)], len(batch))


def _failure(t: RabbitMQTransport, reason: BaseException) -> errors.MsgbusError | None:
    """The error of the messages a pika error left unconfirmed; None: publish them again."""
    if _errors.is_channel_error(reason):
        return t._translate(reason)
    if not _errors.is_connection_loss(reason):  # a hard error this client provoked
        if isinstance(reason, pika.exceptions.ConnectionClosedByBroker):
            t._recovery.recover(reason)
        return t._translate(reason)
    log.warning("connection to %s lost during a batch: %r", t._url, reason)
    t._recovery.recover(reason)
    if t._republish:
        return None
    return errors.ConnectionLost(
        f"the connection to {t._url} was lost before the broker confirmed the message; the "
        "transport has reconnected, publish it again")


def _prepare(t: RabbitMQTransport, batch: list[Publication]) -> list[Prepared]:
    """Each publication with server-named queue aliases resolved, and its pika properties."""
    made: dict[int, pika.BasicProperties | None] = {}  # properties shared by messages
    prepared: list[Prepared] = []
    for message in batch:
        properties = message.properties
        key = id(properties)
        if key not in made:
            made[key] = to_pika(properties)
        if not message.exchange and t._topology.aliases:
            resolved = t._topology.resolve(message.routing_key)
            if resolved != message.routing_key:
                message = Publication("", resolved, message.body, properties)
        prepared.append((message, made[key]))
    return prepared


def _confirm_channel(t: RabbitMQTransport) -> ConfirmChannel:
    confirms = t._confirms
    if confirms is None or not confirms.channel.is_open:
        assert t._connection is not None
        confirms = t._confirms = ConfirmChannel(t._connection.channel())
    return confirms


def _write(channel: BlockingChannel, prepared: list[Prepared], mandatory: bool) -> None:
    """Without confirms: write every message, flushing the socket now and then."""
    publish: Any = channel._impl.basic_publish
    for count, (message, properties) in enumerate(prepared, 1):
        publish(message.exchange, message.routing_key, message.body, properties, mandatory)
        if count % WRITE_EVERY == 0:
            channel._flush_output()
    channel._flush_output()


def _close_quietly(channel: BlockingChannel) -> None:
    try:
        channel.close()
    except _errors.PIKA_ERRORS as exc:
        log.debug("closing a batch channel: %r", exc)
