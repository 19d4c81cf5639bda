"""Confirms on the wire: what the broker confirms for publishes that arrive together goes
out as one ``multiple`` ack, as RabbitMQ sends them (clients such as amqplib count on
seeing one), and never after the close-ok of the channel they belong to."""

from __future__ import annotations

from typing import Any

import pika.spec as S

from tests.contrib.amqp_server.wire import Wire, body, header, method

MESSAGES = 200


def _publishes(channel: int, queue: str, count: int) -> list[bytes]:
    pieces: list[bytes] = []
    for n in range(count):
        data = b"message %d" % n
        pieces += [method(channel, S.Basic.Publish(exchange="", routing_key=queue)),
                   header(channel, len(data)), body(channel, data)]
    return pieces


def _acks(seen: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [item for item in seen if item[:3] == ("method", 1, "Basic.Ack")]


def test_confirms_of_publishes_sent_together_are_one_multiple_ack(msgbus_amqp_url: str) -> None:
    with Wire(msgbus_amqp_url) as wire:
        wire.open()
        wire.channel(1)
        queue = wire.declare_queue(1, exclusive=True)
        wire.send_method(1, S.Confirm.Select())
        wire.expect(1, S.Confirm.SelectOk)
        wire.send(*_publishes(1, queue, MESSAGES))
        acks = _acks(wire.until_sync(1))
        assert acks, "no confirm came"
        assert acks[-1][3]["delivery_tag"] == MESSAGES
        assert len(acks) < MESSAGES
        assert any(ack[3]["multiple"] for ack in acks)


def test_no_confirm_follows_its_channels_close_ok(msgbus_amqp_url: str) -> None:
    with Wire(msgbus_amqp_url) as wire:
        wire.open()
        wire.channel(1)
        queue = wire.declare_queue(1, exclusive=True)
        wire.send_method(1, S.Confirm.Select())
        wire.expect(1, S.Confirm.SelectOk)
        wire.send(*_publishes(1, queue, 5), method(1, S.Channel.Close(200, "bye", 0, 0)))
        seen = []
        while True:
            item = wire.observe()
            seen.append(item)
            if item[:3] == ("method", 1, "Channel.CloseOk"):
                break
        assert _acks(seen)[-1][3]["delivery_tag"] == 5
        wire.channel(2)
        assert wire.until_sync(2) == []
