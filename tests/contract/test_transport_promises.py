"""Promises both transports keep through time, errors in callbacks and threads.

Each test runs on the in-process broker and on RabbitMQ: the broker acts on its own clock
(a message TTL dead-letters with nobody calling the broker), a callback that raises does
not lose the deliveries after it, and settlements made by other threads are sent before
the connection closes and never settle another channel's delivery.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msgbus import errors
from msgbus.clock import ManualClock
from msgbus.transport import Transport
from msgbus.values import Delivery, ExchangeType
from tests.support import Names, wait_until


def _fill(transport: Transport, queue: str, count: int) -> None:
    transport.declare_queue(queue)
    for n in range(count):
        transport.publish("", queue, str(n).encode())


def _ready(connect: Callable[[], Transport], queue: str) -> int:
    """The ready messages of ``queue``, seen from a connection of its own."""
    return connect().declare_queue(queue, passive=True).message_count


# -- time ----------------------------------------------------------------------------------


@pytest.fixture
def real_clock(transport_kind: str, request: pytest.FixtureRequest
               ) -> Iterator[Callable[[], Transport]]:
    """Opens transports to a broker running on the real clock (``SystemClock``)."""
    opened: list[Transport] = []
    if transport_kind == "memory":
        from transports.memory import Broker, MemoryTransport

        broker = Broker()

        def make() -> Transport:
            opened.append(MemoryTransport(broker))
            return opened[-1]
    else:
        from transports.rabbitmq import RabbitMQTransport

        url = request.getfixturevalue("amqp_url")

        def make() -> Transport:
            opened.append(RabbitMQTransport.from_url(url))
            return opened[-1]
    yield make
    for transport in opened:
        transport.close()


def test_a_consumer_behind_a_ttl_queue_gets_the_dead_lettered_message(
    real_clock: Callable[[], Transport], names: Names
) -> None:
    # the delayed-retry pattern: TTL queue -> dead-letter exchange -> work queue, with
    # nothing but the waiting consumer calling the broker
    transport = real_clock()
    retry, work, delay = names.exchange("retry"), names.queue("work"), names.queue("delay")
    transport.declare_exchange(retry, ExchangeType.FANOUT)
    transport.declare_queue(work)
    transport.bind_queue(work, retry)
    transport.declare_queue(delay, arguments={"x-message-ttl": 200,
                                              "x-dead-letter-exchange": retry})
    got: list[Delivery] = []
    transport.consume(work, got.append, auto_ack=True)
    real_clock().publish("", delay, b"try again")
    give_up = time.monotonic() + 10
    while not got and time.monotonic() < give_up:
        transport.process_events(give_up - time.monotonic())
    assert [d.body for d in got] == [b"try again"]
    assert got[0].properties.headers is not None
    death = got[0].properties.headers["x-death"][0]
    assert (death["reason"], death["queue"]) == ("expired", delay)


def test_a_manual_clock_moves_only_when_told() -> None:
    from transports.memory import Broker, MemoryTransport

    clock = ManualClock()
    transport = MemoryTransport(Broker(clock=clock))
    transport.declare_queue("dead")
    transport.declare_queue("delay", arguments={"x-message-ttl": 200,
                                                "x-dead-letter-exchange": "",
                                                "x-dead-letter-routing-key": "dead"})
    got: list[Delivery] = []
    transport.consume("dead", got.append, auto_ack=True)
    transport.publish("", "delay", b"later")
    transport.process_events(0.3)  # real time passes, the broker's does not
    assert got == []
    clock.advance(0.2)
    transport.process_events(0.0)
    assert [d.body for d in got] == [b"later"]


# -- callbacks that raise --------------------------------------------------------------------


class Boom(Exception):
    pass


def test_a_raising_callback_reaches_the_caller_and_the_rest_still_arrive(
    connect: Callable[[], Transport], names: Names
) -> None:
    transport = connect()
    q = names.queue()
    _fill(transport, q, 5)
    seen: list[bytes] = []

    def on_message(delivery: Delivery) -> None:
        seen.append(delivery.body)
        if len(seen) == 1:
            raise Boom("the first one fails")
        transport.ack(delivery.delivery_tag)

    transport.consume(q, on_message, prefetch=5)
    raised: list[Boom] = []
    give_up = time.monotonic() + 10
    while not raised and time.monotonic() < give_up:
        try:
            transport.process_events(0.1)
        except Boom as exc:
            raised.append(exc)
    assert [str(exc) for exc in raised] == ["the first one fails"]
    wait_until(transport, lambda: len(seen) == 5)
    assert seen == [b"0", b"1", b"2", b"3", b"4"]
    transport.close()
    assert _ready(connect, q) == 1  # the first, never acknowledged


@pytest.mark.parametrize("failing", [2, 3, 7])
def test_after_a_raising_callback_every_queue_goes_on_in_order(
    transport: Transport, names: Names, failing: int
) -> None:
    queues = [names.queue("a"), names.queue("b")]
    for q in queues:
        _fill(transport, q, 5)
    seen: dict[str, list[bytes]] = {q: [] for q in queues}
    count = 0

    def on_message(delivery: Delivery) -> None:
        nonlocal count
        count += 1
        assert delivery.consumer_tag is not None
        seen[tags[delivery.consumer_tag]].append(delivery.body)
        if count == failing:
            raise Boom(f"delivery {failing} fails")

    tags = {transport.consume(q, on_message, auto_ack=True).consumer_tag: q for q in queues}
    for q in queues:  # delivered after those the consumer started with
        transport.publish("", q, b"5")
    raised = 0
    give_up = time.monotonic() + 10
    while count < 12 and time.monotonic() < give_up:
        try:
            transport.process_events(0.1)
        except Boom:
            raised += 1
    assert raised == 1
    assert seen == {q: [b"0", b"1", b"2", b"3", b"4", b"5"] for q in queues}


# -- settlement from other threads -----------------------------------------------------------


def test_acks_a_worker_thread_made_are_sent_before_close(
    connect: Callable[[], Transport], names: Names
) -> None:
    transport = connect()
    q = names.queue()
    _fill(transport, q, 20)
    got: list[Delivery] = []
    transport.consume(q, got.append)
    wait_until(transport, lambda: len(got) == 20)

    worker = threading.Thread(target=lambda: [transport.ack(d.delivery_tag) for d in got])
    worker.start()
    worker.join()
    transport.close()

    assert _ready(connect, q) == 0


def test_a_stale_tag_from_a_worker_never_settles_the_new_channels_delivery(
    connect: Callable[[], Transport], names: Names
) -> None:
    transport = connect()
    q, missing = names.queue(), names.queue("missing")
    _fill(transport, q, 3)
    old: list[Delivery] = []
    transport.consume(q, old.append)
    wait_until(transport, lambda: len(old) == 3)
    with pytest.raises(errors.NotFound):  # the channel closes: its deliveries go back
        transport.declare_queue(missing, passive=True)
    new: list[Delivery] = []
    transport.consume(q, new.append)
    wait_until(transport, lambda: len(new) == 3)

    worker = threading.Thread(target=lambda: [transport.ack(d.delivery_tag) for d in old])
    worker.start()
    worker.join()
    transport.process_events(0.2)
    assert transport.declare_queue(q, passive=True).message_count == 0
    transport.close()

    assert _ready(connect, q) == 3  # none of the new deliveries was acknowledged


def test_a_worker_acking_while_the_channel_is_replaced_never_settles_the_new_one(
    transport: Transport, names: Names
) -> None:
    # the old channel's deliveries come from one queue, the new channel's from another: a
    # worker's ack of an old tag, however it races with the replacement, either settles the
    # old delivery or is ignored; it never settles one of the new channel's
    missing = names.queue("missing")
    for round_ in range(20):
        old_q, new_q = names.queue(f"old{round_}"), names.queue(f"new{round_}")
        _fill(transport, old_q, 3)
        _fill(transport, new_q, 3)
        old: list[Delivery] = []
        transport.consume(old_q, old.append, prefetch=3)
        wait_until(transport, lambda old=old: len(old) == 3)
        go = threading.Event()

        def worker(old: list[Delivery] = old, go: threading.Event = go) -> None:
            go.wait()
            for delivery in old:
                transport.ack(delivery.delivery_tag)

        thread = threading.Thread(target=worker)
        thread.start()
        go.set()
        with pytest.raises(errors.NotFound):  # the channel is replaced
            transport.declare_queue(missing, passive=True)
        new: list[Delivery] = []
        transport.consume(new_q, new.append, prefetch=3)
        wait_until(transport, lambda new=new: len(new) == 3)
        thread.join()
        transport.process_events(0.0)  # where the worker's acks are applied, on RabbitMQ
        for delivery in new:  # a 406 (unknown delivery tag) if a stale ack settled it
            transport.ack(delivery.delivery_tag)
        transport.declare_queue(new_q, passive=True)  # RabbitMQ answers with the next call


def test_an_unknown_tag_is_named_as_the_client_sent_it(
    transport: Transport, names: Names
) -> None:
    q, missing = names.queue(), names.queue("missing")
    _fill(transport, q, 2)
    assert transport.get(q) is not None
    with pytest.raises(errors.NotFound):  # a new channel, with its own tags
        transport.declare_queue(missing, passive=True)
    second = transport.get(q)
    assert second is not None
    bogus = second.delivery_tag + 5
    with pytest.raises(errors.PreconditionFailed) as caught:
        transport.ack(bogus)
        transport.declare_queue(q, passive=True)  # RabbitMQ answers with the next call
    assert caught.value.reply_text == f"PRECONDITION_FAILED - unknown delivery tag {bogus}"


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tag=st.integers(min_value=2**64) | st.integers(max_value=-1),
       settle=st.sampled_from(["ack", "nack", "reject"]))
def test_a_tag_outside_64_bits_is_a_validation_error(
    transport: Transport, names: Names, tag: int, settle: str
) -> None:
    q = names.queue()
    _fill(transport, q, 1)
    delivery = transport.get(q)
    assert delivery is not None
    with pytest.raises(errors.ValidationError, match="delivery_tag"):
        getattr(transport, settle)(tag)
    transport.ack(delivery.delivery_tag)  # nothing was sent: the channel is fine
    assert transport.declare_queue(q, passive=True).message_count == 0
