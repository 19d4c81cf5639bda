"""Acks made in consumer callbacks are held and sent together, acknowledging the same messages."""

from __future__ import annotations

from typing import Any

import pytest

from msgbus.values import Delivery
from tests.support import Names, wait_until
from transports.rabbitmq import RabbitMQTransport

pytestmark = pytest.mark.rabbitmq


def _counts(url: str, queue: str) -> tuple[int, int]:
    """(ready, consumers) of ``queue`` as another connection sees it."""
    with RabbitMQTransport.from_url(url) as observer:
        info = observer.declare_queue(queue, passive=True)
        return info.message_count, info.consumer_count


def _spy_acks(transport: RabbitMQTransport, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record the basic.ack frames the transport's current channel sends."""
    channel: Any = transport._channel
    sent: list[Any] = []
    real = channel.basic_ack

    def basic_ack(delivery_tag: int = 0, multiple: bool = False) -> None:
        sent.append((delivery_tag, multiple))
        real(delivery_tag, multiple)

    monkeypatch.setattr(channel, "basic_ack", basic_ack)
    return sent


def test_acks_of_one_batch_go_out_as_one_multiple_ack(
    amqp_url: str, names: Names, monkeypatch: pytest.MonkeyPatch
) -> None:
    transport = RabbitMQTransport.from_url(amqp_url)
    q = names.queue()
    transport.declare_queue(q)
    for n in range(100):
        transport.publish("", q, str(n).encode())
    sent = _spy_acks(transport, monkeypatch)
    seen: list[int] = []

    def on_message(delivery: Delivery) -> None:
        transport.ack(delivery.delivery_tag)
        seen.append(int(delivery.body))

    transport.consume(q, on_message, prefetch=100)
    wait_until(transport, lambda: len(seen) == 100)
    assert seen == list(range(100))
    assert all(multiple for _, multiple in sent) and 1 <= len(sent) <= 50
    assert sent[-1] == (100, True)
    transport.close()
    assert _counts(amqp_url, q) == (0, 0)  # every message acked, none requeued


def test_a_held_ack_never_covers_a_delivery_still_open(
    amqp_url: str, names: Names, monkeypatch: pytest.MonkeyPatch
) -> None:
    transport = RabbitMQTransport.from_url(amqp_url)
    kept_q, acked_q = names.queue("kept"), names.queue("acked")
    for q in (kept_q, acked_q):
        transport.declare_queue(q)
    transport.publish("", kept_q, b"kept")
    kept = transport.get(kept_q)  # tag 1, left open
    assert kept is not None
    for n in range(5):
        transport.publish("", acked_q, str(n).encode())
    sent = _spy_acks(transport, monkeypatch)
    later: list[Delivery] = []

    def on_message(delivery: Delivery) -> None:
        if delivery.body == b"2":
            later.append(delivery)  # settled after the batch
        else:
            transport.ack(delivery.delivery_tag)

    transport.consume(acked_q, on_message, prefetch=10)
    wait_until(transport, lambda: len(later) == 1)
    transport.process_events(0.2)
    assert (kept.delivery_tag, True) not in sent and all(tag > 1 for tag, _ in sent)
    assert not any(multiple and tag >= later[0].delivery_tag for tag, multiple in sent)
    transport.ack(later[0].delivery_tag)
    transport.close()  # the open delivery goes back to its queue, the acked ones do not
    assert _counts(amqp_url, kept_q) == (1, 0)
    assert _counts(amqp_url, acked_q) == (0, 0)


def test_held_acks_go_before_what_the_transport_does_next(
    amqp_url: str, names: Names
) -> None:
    transport = RabbitMQTransport.from_url(amqp_url)
    q = names.queue()
    transport.declare_queue(q)
    transport.publish("", q, b"x")
    done: list[bool] = []

    def on_message(delivery: Delivery) -> None:
        transport.ack(delivery.delivery_tag)
        done.append(True)
        raise RuntimeError("the callback fails after its ack")

    transport.consume(q, on_message, prefetch=1)
    with pytest.raises(RuntimeError, match="fails after its ack"):
        wait_until(transport, lambda: bool(done))
    transport.close()  # the ack was sent, so the message does not come back
    assert _counts(amqp_url, q) == (0, 0)
