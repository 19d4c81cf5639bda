"""``GenericProducer.batch()``: messages published together, on every transport."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from msgbus import (
    Exchange,
    GenericProducer,
    MessageHandler,
    MessageProcessor,
    MessageResult,
    PublishBatchFailed,
    RpcHandler,
    ValidationError,
)
from msgbus.handlers import ReplyFunction
from msgbus.transport import Transport
from tests.app.conftest import make_exchange, pump, settle
from tests.support import Names

Connect = Callable[[], Transport]


class Jobs(MessageProcessor):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[Any] = []

    @MessageHandler("command", "job")
    def job(self, content: Any) -> None:
        self.seen.append(content["parameters"]["args"][0])

    @RpcHandler("command", "count")
    def count(self, content: Any, reply: ReplyFunction) -> None:
        reply(MessageResult(len(self.seen)))


def _setup(connect: Connect, names: Names) -> tuple[Jobs, GenericProducer, type[Exchange]]:
    x = make_exchange(names.exchange())
    processor = Jobs(eqk=[(x, [(names.queue(), "k")])], transport=connect())
    processor.process_events()  # bound and consuming before anything is sent

    class Producer(GenericProducer):
        eks = [(x, "k")]

    return processor, Producer(transport=connect()), x


def test_a_batch_is_published_in_chunks_and_when_the_block_ends(
    connect: Connect, names: Names, transport_kind: str
) -> None:
    processor, producer, _x = _setup(connect, names)
    with producer.batch(size=10):
        for i in range(25):
            producer.message_job(i)
        pump(processor, until=lambda: len(processor.seen) == 20)  # two full batches
        settle(processor, transport_kind=transport_kind)
        assert processor.seen == list(range(20))  # the last 5 wait for the block's end
        with producer.batch():  # nested: part of the outer one
            producer.message_job(25)
        producer.flush()
        pump(processor, until=lambda: len(processor.seen) == 26)
        producer.message_job(26)
    pump(processor, until=lambda: len(processor.seen) == 27)
    assert processor.seen == list(range(27))


def test_an_rpc_in_a_batch_publishes_what_was_collected_first(
    connect: Connect, names: Names
) -> None:
    processor, producer, _x = _setup(connect, names)
    processor.start()
    try:
        with producer.batch():
            producer.message_job("a")
            producer.message_job("b")
            reply = producer.rpc_count(_timeout=10)
        assert reply and reply.value == 2
    finally:
        processor.stop()


def test_an_exception_in_the_block_still_publishes_what_was_sent(
    connect: Connect, names: Names
) -> None:
    processor, producer, _x = _setup(connect, names)
    with pytest.raises(KeyError), producer.batch():
        producer.message_job(1)
        raise KeyError("boom")
    pump(processor, until=lambda: processor.seen == [1])
    producer.message_job(2)  # the batch is over: published at once
    pump(processor, until=lambda: processor.seen == [1, 2])


def test_refused_messages_are_named_by_publish_batch_failed(
    connect: Connect, names: Names
) -> None:
    processor, producer, x = _setup(connect, names)
    producer.transport.declare_queue(names.queue("capped"), arguments={
        "x-max-length": 1, "x-overflow": "reject-publish"})
    producer.transport.bind_queue(names.queue("capped"), x.name, "capped")
    with pytest.raises(PublishBatchFailed) as info, producer.batch():
        producer.message_job(0)
        producer.message_job(1, _key="capped")
        producer.message_job(2, _key="capped")  # over the limit: nacked
        producer.message_job(3)
    assert [(index, message.routing_key) for index, message, _e in info.value.failed] == [
        (2, "capped")]
    pump(processor, until=lambda: processor.seen == [0, 3])


def test_other_threads_publish_as_usual(connect: Connect, names: Names) -> None:
    processor, producer, _x = _setup(connect, names)
    done = threading.Event()

    def elsewhere() -> None:
        producer.message_job("elsewhere")
        done.set()

    with producer.batch():
        producer.message_job("here")
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join(10)
        assert done.is_set()
        pump(processor, until=lambda: processor.seen == ["elsewhere"])
    pump(processor, until=lambda: processor.seen == ["elsewhere", "here"])


@pytest.mark.parametrize("size", [0, -1, 1.5, True, "10"])
def test_a_bad_batch_size_is_refused(connect: Connect, names: Names, size: Any) -> None:
    _processor, producer, _x = _setup(connect, names)
    with pytest.raises(ValidationError, match="batch size must be an int >= 1"), \
            producer.batch(size=size):
        pass  # pragma: no cover


def test_unroutable_is_not_raised_without_mandatory(connect: Connect, names: Names) -> None:
    """A producer publishes without ``mandatory``: an unbound key drops the message, as
    ``publish`` does, and the batch succeeds."""
    processor, producer, _x = _setup(connect, names)
    with producer.batch():
        producer.message_job("lost", _key="nobody")
        producer.message_job("kept")
    pump(processor, until=lambda: processor.seen == ["kept"])
