"""Messages no handler takes, remote control, and the fingerprint's vhost, on every
transport: nothing is acknowledged and dropped silently unless the application says so."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from msgbus import (
    Exchange,
    Fingerprint,
    GenericProducer,
    MessageHandler,
    MessageProcessor,
    RpcHandler,
    ValidationError,
)
from msgbus.handlers import ReplyFunction
from msgbus.transport import Transport
from tests.app.conftest import make_exchange, pump
from tests.support import Names

Connect = Callable[[], Transport]


class Echo(MessageProcessor):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[Any] = []
        self.restarts = 0

    @MessageHandler("command", "echo")
    def on_echo(self, content: Any) -> None:
        self.seen.append(content["parameters"]["args"][0])

    def restart(self) -> None:
        self.restarts += 1


def _producer(x: type[Exchange], transport: Transport) -> GenericProducer:
    class Producer(GenericProducer):
        eks = [(x, "k")]

    return Producer(Fingerprint("sender", "test"), transport=transport)


def _with_dlx(connect: Connect, names: Names, **options: Any) -> tuple[Echo, str, str]:
    """An Echo processor on a queue whose dead-letter exchange feeds the returned queue."""
    x = make_exchange(names.exchange("x"))
    dlx = make_exchange(names.exchange("dlx"), "fanout")
    q, dlq = names.queue("work"), names.queue("dead")
    Echo(eqk=[(dlx, [(dlq, "")])], transport=connect())  # declares the DLX and its queue
    work = {"name": q, "flags": {"arguments": {"x-dead-letter-exchange": dlx.name}}}
    return Echo(eqk=[(x, [(work, "k")])], transport=connect(), **options), q, dlq


def _exchange_of(processor: MessageProcessor) -> type[Exchange]:
    return processor.consumer.bindings[0].exchange


def test_a_message_no_handler_takes_is_logged_and_dead_lettered(
    connect: Connect, names: Names, caplog: pytest.LogCaptureFixture
) -> None:
    processor, q, dlq = _with_dlx(connect, names)
    producer = _producer(_exchange_of(processor), connect())
    with caplog.at_level(logging.WARNING, logger="msgbus.processor"):
        producer.message_nobody_knows(1)
        producer.message_echo("after")
        pump(processor, until=lambda: processor.handled == 2)
    assert processor.seen == ["after"]  # it goes on
    [record] = [r for r in caplog.records if "nobody_knows" in r.getMessage()]
    assert record.levelno == logging.WARNING and "no handler takes it" in record.getMessage()
    probe = connect()
    pump(probe, until=lambda: probe.declare_queue(dlq, passive=True).message_count == 1)
    dead = probe.get(dlq, auto_ack=True)
    assert dead is not None and b'"nobody_knows"' in dead.body
    assert probe.declare_queue(q, passive=True).message_count == 0


def test_unknown_messages_ignore_acknowledges_and_drops(
    connect: Connect, names: Names, caplog: pytest.LogCaptureFixture
) -> None:
    processor, q, dlq = _with_dlx(connect, names, unknown_messages="ignore")
    producer = _producer(_exchange_of(processor), connect())
    with caplog.at_level(logging.DEBUG, logger="msgbus.processor"):
        producer.message_nobody_knows(1)
        producer.message_echo("after")
        pump(processor, until=lambda: processor.handled == 2)
    assert processor.seen == ["after"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    probe = connect()
    pump(probe, until=lambda: probe.declare_queue(q, passive=True).message_count == 0)
    assert probe.declare_queue(dlq, passive=True).message_count == 0


@pytest.mark.parametrize("command", ["quit", "restart"])
def test_remote_quit_and_restart_are_refused_by_default(
    connect: Connect, names: Names, caplog: pytest.LogCaptureFixture, command: str
) -> None:
    processor, _, dlq = _with_dlx(connect, names)
    producer = _producer(_exchange_of(processor), connect())
    with caplog.at_level(logging.WARNING, logger="msgbus.processor"):
        getattr(producer, f"message_{command}")()
        producer.message_echo("still here")
        pump(processor, until=lambda: processor.handled == 2)
    assert processor.running and processor.restarts == 0
    assert processor.seen == ["still here"]
    assert any("remote control is off" in r.getMessage() for r in caplog.records)
    probe = connect()
    pump(probe, until=lambda: probe.declare_queue(dlq, passive=True).message_count == 1)


def test_remote_control_is_per_processor(connect: Connect, names: Names) -> None:
    x = make_exchange(names.exchange(), "fanout")

    class Obedient(Echo):
        remote_control = True

    by_class = Obedient(eqk=[(x, [(names.queue("a"), "")])], transport=connect())
    by_argument = Echo(eqk=[(x, [(names.queue("b"), "")])], transport=connect(),
                       remote_control=True)
    refusing = Obedient(eqk=[(x, [(names.queue("c"), "")])], transport=connect(),
                        remote_control=False)
    _producer(x, connect()).message_quit()
    pump(by_class, by_argument, refusing,
         until=lambda: by_class.handled == by_argument.handled == refusing.handled == 1)
    assert not by_class.running and not by_argument.running
    assert refusing.running


@pytest.mark.parametrize(
    ("options", "found"),
    [
        ({"unknown_messages": "drop"}, "'drop'"),
        ({"unknown_messages": None, "remote_control": "yes"}, "'yes'"),
    ],
)
def test_processor_options_are_checked(
    connect: Connect, options: dict[str, Any], found: str
) -> None:
    with pytest.raises(ValidationError, match=found):
        Echo(transport=connect(), **options)


def test_the_fingerprint_names_the_vhost_of_the_transport(transport: Transport) -> None:
    producer = GenericProducer(Fingerprint("a", "b"), transport=transport)
    processor = MessageProcessor({"name": "c"}, transport=transport)
    assert producer.fingerprint["vhost"] == processor.fingerprint["vhost"] == transport.vhost
    explicit = GenericProducer(Fingerprint("a", "b", vhost="elsewhere"), transport=transport)
    assert explicit.fingerprint["vhost"] == "elsewhere"  # given, so kept


def test_the_fingerprint_vhost_on_another_vhost() -> None:
    from transports.memory import Broker, MemoryTransport

    broker = Broker()
    broker.add_vhost("billing")
    transport = MemoryTransport(broker, vhost="billing")
    assert transport.vhost == "billing"
    assert GenericProducer(Fingerprint("a"), transport=transport).fingerprint["vhost"] == "billing"
    assert MessageProcessor(transport=transport).fingerprint["vhost"] == "billing"


def test_a_reply_that_cannot_be_encoded_is_answered_with_the_error(
    connect: Connect, names: Names, caplog: pytest.LogCaptureFixture
) -> None:
    x = make_exchange(names.exchange())

    class Sloppy(MessageProcessor):
        @RpcHandler("command", "returns")
        def returns(self, content: Any, reply: ReplyFunction) -> Any:
            return {1, 2}  # a set: JSON cannot carry it

        @RpcHandler("command", "replies")
        def replies(self, content: Any, reply: ReplyFunction) -> None:
            reply(object())

    processor = Sloppy(eqk=[(x, [(names.queue(), "k")])], transport=connect())
    producer = _producer(x, connect())
    with caplog.at_level(logging.ERROR, logger="msgbus.processor"):
        for name in ("returns", "replies"):
            pending = getattr(producer, f"start_rpc_{name}")()
            pump(processor, producer.transport, until=lambda p=pending: p.poll())  # type: ignore[misc]
            result = pending.wait()
            assert not result and result.value == "EncodeError"
    assert processor.handled == 2  # the processor went on
    assert sum("cannot send the reply" in r.getMessage() for r in caplog.records) == 2
