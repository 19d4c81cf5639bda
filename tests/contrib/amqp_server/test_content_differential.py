"""Content on the wire, differential: bodies split at the negotiated frame_max, no body frame
for an empty body, and the frames of one message never interleaved with anything else."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.contrib.amqp_server.conftest import Differential, Observed
from tests.contrib.amqp_server.wire import S, Wire, body, header, method

pytestmark = pytest.mark.rabbitmq


@pytest.mark.parametrize("frame_max", [4096, 131072])
@pytest.mark.parametrize("size", [0, 1, 4088, 4089, 10000, 300000])
def test_a_body_is_split_at_the_negotiated_frame_max(differential: Differential,
                                                     frame_max: int, size: int) -> None:
    data = bytes(i % 251 for i in range(size))

    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            wire.open(frame_max=frame_max)
            wire.channel(1)
            queue = wire.declare_queue(1, exclusive=True)
            wire.publish(1, queue, data, frame_max=frame_max,
                         properties=S.BasicProperties(content_type="x/y", headers={"n": 1}))
            wire.send_method(1, S.Basic.Get(queue=queue, no_ack=True))
            observed = [wire.observe(), wire.observe()]  # get-ok, header
            received = 0
            while received < size:
                frame = wire.observe()
                observed.append((*frame[:2], len(frame[2])))
                received += len(frame[2])
            # nothing more: an empty body has no body frame
            return observed + wire.until_sync(1)

    observed = differential.same(scenario)
    bodies = [item for item in observed if item[0] == "body"]
    assert all(item[2] <= frame_max - 8 for item in bodies)
    assert sum(item[2] for item in bodies) == size


def _deliveries(wire: Wire, count: int) -> list[Any]:
    """Read ``count`` whole deliveries; raise if a message's frames are interleaved with
    any other frame. Returns (channel, routing key, body) per message, in arrival order."""
    messages: list[Any] = []
    while len(messages) < count:
        frame = wire.observe()
        if frame[:3] == ("method", frame[1], "Basic.Ack"):
            continue
        assert frame[2] == "Basic.Deliver", f"expected a delivery, got {frame!r}"
        channel, key = frame[1], frame[3]["routing_key"]
        head = wire.observe()
        assert head[:2] == ("header", channel), f"{key}: a header must follow, got {head!r}"
        data = b""
        while len(data) < head[2]:
            piece = wire.observe()
            assert piece[:2] == ("body", channel), f"{key}: interleaved with {piece!r}"
            data += piece[2]
        messages.append((channel, key, data))
    return messages


def test_the_frames_of_one_message_never_interleave(differential: Differential) -> None:
    """Two publishers send big messages at once; one client consumes them on two channels
    with a small frame_max: each message's frames arrive together."""
    size, count = 200_000, 10

    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as consumer:
            consumer.open(frame_max=4096)
            queues = []
            for number in (1, 2):
                consumer.channel(number)
                queue = consumer.declare_queue(number, f"{tag}.q{number}", exclusive=True)
                consumer.send_method(number, S.Basic.Consume(queue=queue, no_ack=True,
                                                             consumer_tag=f"c{number}"))
                consumer.expect(number, S.Basic.ConsumeOk)
                queues.append(queue)

            def publish(queue: str, fill: int) -> None:
                with Wire(url) as publisher:
                    publisher.open(frame_max=4096)
                    publisher.channel(1)
                    publisher.send_method(1, S.Confirm.Select())
                    publisher.expect(1, S.Confirm.SelectOk)
                    for _ in range(count):
                        publisher.publish(1, queue, bytes([fill]) * size, frame_max=4096)
                    publisher.until_sync(1)

            threads = [threading.Thread(target=publish, args=(queue, fill))
                       for queue, fill in zip(queues, b"ab", strict=True)]
            for thread in threads:
                thread.start()
            messages = _deliveries(consumer, 2 * count)
            for thread in threads:
                thread.join()
            per_channel = {
                number: [(key, len(data), set(data)) for channel, key, data in messages
                         if channel == number] for number in (1, 2)}
            return [("per channel", per_channel)]

    ((_, per_channel),) = differential.same(scenario)
    assert per_channel[1] == [(f"{differential.tag}.q1", size, {ord("a")})] * count


def test_publish_with_a_body_in_many_small_frames(differential: Differential) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            wire.open()
            wire.channel(1)
            queue = wire.declare_queue(1, exclusive=True)
            wire.send(method(1, S.Basic.Publish(routing_key=queue)), header(1, 100),
                      *(body(1, bytes([i])) for i in range(100)))
            wire.send_method(1, S.Basic.Get(queue=queue, no_ack=True))
            return [wire.observe() for _ in range(3)]

    assert differential.same(scenario)[2] == ("body", 1, bytes(range(100)))


def test_a_consumers_window_is_its_prefetch(differential: Differential) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            wire.open()
            wire.channel(1)
            wire.channel(2)
            queue = wire.declare_queue(1, exclusive=True)
            for number in range(10):
                wire.publish(2, queue, b"%d" % number)
            wire.send_method(1, S.Basic.Qos(prefetch_count=3))
            wire.expect(1, S.Basic.QosOk)
            wire.send_method(1, S.Basic.Consume(queue=queue, consumer_tag="c"))
            observed: Observed = [wire.observe()]  # consume-ok
            observed += [wire.observe() for _ in range(9)]  # three whole deliveries
            # a get on another channel sees what the window left in the queue
            wire.send_method(2, S.Basic.Get(queue=queue, no_ack=True))
            observed += [wire.observe() for _ in range(3)]
            # one ack lets exactly one more in
            wire.send_method(1, S.Basic.Ack(delivery_tag=2))
            observed += [wire.observe() for _ in range(3)]
            wire.send_method(2, S.Basic.Get(queue=queue, no_ack=True))
            return [*observed, wire.observe()]

    observed = differential.same(scenario)
    assert observed[10][3]["message_count"] == 6 and observed[-1][3]["message_count"] == 4


def test_an_unroutable_mandatory_publish_under_confirms(differential: Differential) -> None:
    def scenario(url: str, tag: str) -> Observed:
        with Wire(url) as wire:
            wire.open()
            wire.channel(1)
            wire.send_method(1, S.Confirm.Select())
            wire.expect(1, S.Confirm.SelectOk)
            wire.publish(1, f"{tag}.nowhere", b"back", mandatory=True,
                         properties=S.BasicProperties(message_id="m1", priority=1))
            wire.publish(1, f"{tag}.nowhere", b"", mandatory=True)
            return [wire.observe() for _ in range(6)] + wire.until_sync(1)

    observed = differential.same(scenario)
    assert [item[2] if item[0] == "method" else item[0] for item in observed] == [
        "Basic.Return", "header", "body", "Basic.Ack", "Basic.Return", "header", "Basic.Ack"]
