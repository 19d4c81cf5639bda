"""One client channel: its methods turned into calls on the broker's public ``Channel``
API, and what the broker answers turned back into AMQP methods.

A method either returns the reply to send (``None`` for none, or with ``nowait``) or raises
the broker's :class:`~msgbus.errors.AMQPError`; the connection sends it as a channel or a
connection close, naming the method as RabbitMQ does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pika import spec
from pika.amqp_object import Method as PikaMethod

from contrib.amqp_server.framing import BODY, HEADER, ContentHeader, Frame, FrameError
from contrib.amqp_server.properties import PropertiesError, decode_properties
from msgbus.errors import AMQPNotImplemented, CommandInvalid, PreconditionFailed
from msgbus.values import Delivery
from transports.memory import Channel

__all__ = ["CLIENT_METHODS", "ChannelMethods", "PendingContent"]

def _name(value: Any) -> str:
    """A short string as the broker takes it (pika gives bytes for one that is not UTF-8)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value) if value is not None else ""


def _table(value: Any) -> dict[str, Any]:
    return dict(value) if value else {}


class PendingContent:
    """A basic.publish waiting for its content header and body frames."""

    __slots__ = ("body_size", "chunks", "method", "properties", "received", "too_large")

    def __init__(self, method: spec.Basic.Publish) -> None:
        self.method = method
        self.properties: bytes | None = None
        self.body_size = 0
        self.chunks: list[bytes] = []
        self.received = 0
        self.too_large = False

    def add(self, frame: Frame) -> bool:
        """Take the content header or a body frame; True once the content is complete
        (raises :class:`FrameError` for a frame out of place, as RabbitMQ answers it)."""
        if frame.type == HEADER:
            header: ContentHeader = frame.payload
            if self.properties is not None:
                raise FrameError(505, "UNEXPECTED_FRAME - expected content body, got non "
                                 "content body frame instead", 60, 40)
            if header.class_id != 60:
                raise FrameError(505, "UNEXPECTED_FRAME - expected content header for class "
                                 f"60, got one for class {header.class_id} instead", 60, 40)
            self.properties = header.properties
            self.body_size = header.body_size
            self.too_large = header.body_size > MAX_MESSAGE_SIZE  # counted, not kept
            return header.body_size == 0
        if self.properties is None:
            raise FrameError(505, "UNEXPECTED_FRAME - expected content header for class 60, "
                             "got non content header frame instead", 60, 40)
        if frame.type != BODY:
            raise FrameError(505, "UNEXPECTED_FRAME - expected content body, got non content "
                             "body frame instead", 60, 40)
        body: bytes = frame.payload
        self.received += len(body)
        if self.received > self.body_size:
            # RabbitMQ waits for a body that can no longer add up: what comes next is
            # unexpected (and nothing more is kept meanwhile)
            self.too_large = True
            self.chunks.clear()
        elif not self.too_large:
            self.chunks.append(body)
        return self.received == self.body_size


#: RabbitMQ's largest message (``max_message_size``, 128 MiB in 3.10).
MAX_MESSAGE_SIZE = 134217728


class ChannelMethods:
    """The methods of one open channel, on the broker's :class:`Channel`."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.closing = False  # the server sent channel.close and waits for close-ok
        self.content: PendingContent | None = None

    # -- exchange ---------------------------------------------------------------------

    def exchange_declare(self, m: spec.Exchange.Declare) -> PikaMethod | None:
        self.channel.exchange_declare(
            _name(m.exchange), _name(m.type), passive=m.passive, durable=m.durable,
            auto_delete=m.auto_delete, internal=m.internal, arguments=_table(m.arguments))
        return None if m.nowait else spec.Exchange.DeclareOk()

    def exchange_delete(self, m: spec.Exchange.Delete) -> PikaMethod | None:
        self.channel.exchange_delete(_name(m.exchange), if_unused=m.if_unused)
        return None if m.nowait else spec.Exchange.DeleteOk()

    def exchange_bind(self, m: spec.Exchange.Bind) -> PikaMethod | None:
        self.channel.exchange_bind(_name(m.destination), _name(m.source),
                                   _name(m.routing_key), _table(m.arguments))
        return None if m.nowait else spec.Exchange.BindOk()

    def exchange_unbind(self, m: spec.Exchange.Unbind) -> PikaMethod | None:
        self.channel.exchange_unbind(_name(m.destination), _name(m.source),
                                     _name(m.routing_key), _table(m.arguments))
        return None if m.nowait else spec.Exchange.UnbindOk()

    # -- queue ------------------------------------------------------------------------

    def queue_declare(self, m: spec.Queue.Declare) -> PikaMethod | None:
        name, messages, consumers = self.channel.queue_declare(
            _name(m.queue), passive=m.passive, durable=m.durable, exclusive=m.exclusive,
            auto_delete=m.auto_delete, arguments=_table(m.arguments))
        return None if m.nowait else spec.Queue.DeclareOk(name, messages, consumers)

    def queue_bind(self, m: spec.Queue.Bind) -> PikaMethod | None:
        self.channel.queue_bind(_name(m.queue), _name(m.exchange), _name(m.routing_key),
                                _table(m.arguments))
        return None if m.nowait else spec.Queue.BindOk()

    def queue_unbind(self, m: spec.Queue.Unbind) -> PikaMethod | None:
        self.channel.queue_unbind(_name(m.queue), _name(m.exchange), _name(m.routing_key),
                                  _table(m.arguments))
        return spec.Queue.UnbindOk()

    def queue_purge(self, m: spec.Queue.Purge) -> PikaMethod | None:
        count = self.channel.queue_purge(_name(m.queue))
        return None if m.nowait else spec.Queue.PurgeOk(count)

    def queue_delete(self, m: spec.Queue.Delete) -> PikaMethod | None:
        count = self.channel.queue_delete(_name(m.queue), if_unused=m.if_unused,
                                          if_empty=m.if_empty)
        return None if m.nowait else spec.Queue.DeleteOk(count)

    # -- basic ------------------------------------------------------------------------

    def basic_qos(self, m: spec.Basic.Qos) -> PikaMethod | None:
        self.channel.basic_qos(m.prefetch_count, global_qos=m.global_qos,
                               prefetch_size=m.prefetch_size)
        return spec.Basic.QosOk()

    def basic_consume(self, m: spec.Basic.Consume) -> PikaMethod | None:
        tag = self.channel.basic_consume(
            _name(m.queue), _name(m.consumer_tag), no_ack=m.no_ack, exclusive=m.exclusive,
            arguments=_table(m.arguments))
        return None if m.nowait else spec.Basic.ConsumeOk(tag)

    def basic_cancel(self, m: spec.Basic.Cancel) -> PikaMethod | None:
        tag = _name(m.consumer_tag)
        self.channel.basic_cancel(tag)
        return None if m.nowait else spec.Basic.CancelOk(tag)

    def basic_ack(self, m: spec.Basic.Ack) -> PikaMethod | None:
        self.channel.basic_ack(m.delivery_tag, multiple=m.multiple)
        return None

    def basic_nack(self, m: spec.Basic.Nack) -> PikaMethod | None:
        self.channel.basic_nack(m.delivery_tag, multiple=m.multiple, requeue=m.requeue)
        return None

    def basic_reject(self, m: spec.Basic.Reject) -> PikaMethod | None:
        self.channel.basic_reject(m.delivery_tag, requeue=m.requeue)
        return None

    def basic_get(self, m: spec.Basic.Get) -> Delivery | None:
        return self.channel.basic_get(_name(m.queue), no_ack=m.no_ack)

    def basic_recover(self, m: spec.Basic.Recover) -> PikaMethod | None:
        self.channel.basic_recover(requeue=m.requeue)
        return spec.Basic.RecoverOk()

    def basic_recover_async(self, m: spec.Basic.RecoverAsync) -> PikaMethod | None:
        self.channel.basic_recover(requeue=m.requeue)
        return None

    def basic_publish(self, content: PendingContent) -> None:
        m = content.method
        if m.immediate:
            raise AMQPNotImplemented("NOT_IMPLEMENTED - immediate=true")
        if content.too_large:
            raise PreconditionFailed(
                f"PRECONDITION_FAILED - message size {content.body_size} is larger than "
                f"configured max size {MAX_MESSAGE_SIZE}")
        body = content.chunks[0] if len(content.chunks) == 1 else b"".join(content.chunks)
        try:
            properties = decode_properties(content.properties or b"\x00\x00")
        except PropertiesError:
            # RabbitMQ's channel fails on the headers it cannot read
            raise FrameError(541, "INTERNAL_ERROR") from None
        self.channel.basic_publish(_name(m.exchange), _name(m.routing_key), body, properties,
                                   mandatory=m.mandatory)

    # -- confirm, tx, channel.flow, access --------------------------------------------

    def confirm_select(self, m: spec.Confirm.Select) -> PikaMethod | None:
        self.channel.confirm_select()
        return None if m.nowait else spec.Confirm.SelectOk()

    def tx_select(self, m: spec.Tx.Select) -> PikaMethod | None:
        self.channel.tx_select()
        return spec.Tx.SelectOk()

    def tx_commit(self, m: spec.Tx.Commit) -> PikaMethod | None:
        self.channel.tx_commit()
        return spec.Tx.CommitOk()

    def tx_rollback(self, m: spec.Tx.Rollback) -> PikaMethod | None:
        self.channel.tx_rollback()
        return spec.Tx.RollbackOk()

    def channel_flow(self, m: spec.Channel.Flow) -> PikaMethod | None:
        if not m.active:
            raise AMQPNotImplemented("NOT_IMPLEMENTED - active=false")
        return spec.Channel.FlowOk(active=True)

    def access_request(self, m: spec.Access.Request) -> PikaMethod | None:
        return spec.Access.RequestOk(ticket=1)

    def unimplemented(self, m: PikaMethod) -> PikaMethod | None:
        raise CommandInvalid("COMMAND_INVALID - unimplemented method")


Handler = Callable[[ChannelMethods, Any], "PikaMethod | None"]

#: What a client may send on an open channel, by pika method class.
CLIENT_METHODS: dict[type, Handler] = {
    spec.Exchange.Declare: ChannelMethods.exchange_declare,
    spec.Exchange.Delete: ChannelMethods.exchange_delete,
    spec.Exchange.Bind: ChannelMethods.exchange_bind,
    spec.Exchange.Unbind: ChannelMethods.exchange_unbind,
    spec.Queue.Declare: ChannelMethods.queue_declare,
    spec.Queue.Bind: ChannelMethods.queue_bind,
    spec.Queue.Unbind: ChannelMethods.queue_unbind,
    spec.Queue.Purge: ChannelMethods.queue_purge,
    spec.Queue.Delete: ChannelMethods.queue_delete,
    spec.Basic.Qos: ChannelMethods.basic_qos,
    spec.Basic.Consume: ChannelMethods.basic_consume,
    spec.Basic.Cancel: ChannelMethods.basic_cancel,
    spec.Basic.Ack: ChannelMethods.basic_ack,
    spec.Basic.Nack: ChannelMethods.basic_nack,
    spec.Basic.Reject: ChannelMethods.basic_reject,
    spec.Basic.Recover: ChannelMethods.basic_recover,
    spec.Basic.RecoverAsync: ChannelMethods.basic_recover_async,
    spec.Confirm.Select: ChannelMethods.confirm_select,
    spec.Tx.Select: ChannelMethods.tx_select,
    spec.Tx.Commit: ChannelMethods.tx_commit,
    spec.Tx.Rollback: ChannelMethods.tx_rollback,
    spec.Channel.Flow: ChannelMethods.channel_flow,
    spec.Access.Request: ChannelMethods.access_request,
}
