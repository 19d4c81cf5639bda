"""What the broker has for a client, as frames: deliveries, returns, confirms and
broker-sent cancels (sans-IO: events in, bytes appended to a list).

A message's frames are appended together, so nothing on its channel comes between them;
a run of confirms for consecutive publishes becomes one ``multiple`` confirm, as RabbitMQ
sends them.
"""

from __future__ import annotations

from collections.abc import Iterable

from pika import spec
from pika.amqp_object import Method as PikaMethod

from contrib.amqp_server import framing
from contrib.amqp_server.properties import encode_properties
from transports.memory.entities import (
    ConsumerCancelled,
    Deliver,
    DeliverMany,
    OutboxEvent,
    PublishConfirm,
    Return,
)

__all__ = ["encode_content", "encode_events"]


def encode_content(out: list[bytes], channel: int, method: PikaMethod, body: bytes,
                   properties: bytes, frame_max: int) -> None:
    """A method with content (its method, header and body frames, together)."""
    out.append(framing.method_frame(channel, method))
    out.append(framing.content_header_frame(channel, len(body), properties))
    if body:
        out.extend(framing.body_frames(channel, body, frame_max))


def encode_events(out: list[bytes], events: Iterable[OutboxEvent], frame_max: int) -> None:
    """Frames for what the broker put in a connection's outbox, in order."""
    pending: PublishConfirm | None = None
    for event in events:
        if isinstance(event, PublishConfirm):
            if (pending is not None and pending.channel == event.channel
                    and pending.ack == event.ack
                    and event.delivery_tag == pending.delivery_tag + 1):
                # confirms come in publish order: a run of them is one multiple confirm
                pending = PublishConfirm(event.channel, event.delivery_tag, event.ack, True)
            else:
                _confirm(out, pending)
                pending = event
            continue
        if pending is not None:
            _confirm(out, pending)
            pending = None
        if isinstance(event, Deliver):
            m = event.message
            encode_content(out, event.channel, spec.Basic.Deliver(
                event.consumer_tag, event.delivery_tag, event.redelivered, m.exchange,
                m.routing_key), m.body, encode_properties(m.properties), frame_max)
        elif isinstance(event, DeliverMany):
            tag = event.first_tag
            for message, redelivered in zip(event.messages, event.redelivered, strict=True):
                encode_content(out, event.channel, spec.Basic.Deliver(
                    event.consumer_tag, tag, redelivered, message.exchange,
                    message.routing_key), message.body, encode_properties(message.properties),
                    frame_max)
                tag += 1
        elif isinstance(event, Return):
            r = event.message
            encode_content(out, event.channel, spec.Basic.Return(
                r.reply_code, r.reply_text, r.exchange, r.routing_key), r.body,
                encode_properties(r.properties), frame_max)
        elif isinstance(event, ConsumerCancelled):
            out.append(framing.method_frame(
                event.channel, spec.Basic.Cancel(event.consumer_tag, True)))
    _confirm(out, pending)


def _confirm(out: list[bytes], confirm: PublishConfirm | None) -> None:
    if confirm is None:
        return
    tag, multiple = confirm.delivery_tag, confirm.multiple
    method = (spec.Basic.Ack(tag, multiple) if confirm.ack
              else spec.Basic.Nack(tag, multiple, False))
    out.append(framing.method_frame(confirm.channel, method))
