"""RPC on every transport: round trips, failures, timeouts and retries, late replies, threads."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest

from msgbus import (
    Exchange,
    Fingerprint,
    GenericProducer,
    JsonEncoder,
    Message,
    MessageProcessor,
    MessageResult,
    MessageResultError,
    MessageResultException,
    MsgpackEncoder,
    RpcHandler,
)
from msgbus.clock import Clock, ManualClock
from msgbus.handlers import ReplyFunction
from msgbus.transport import Transport
from tests.app.conftest import make_exchange, pump, settle
from tests.support import Names

Connect = Callable[[], Transport]


class Calculator(MessageProcessor):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[str] = []
        self.deferred: list[ReplyFunction] = []
        self.answer_from_attempt = 1

    @RpcHandler("command", "add")
    def add(self, content: Any, reply: ReplyFunction) -> None:
        self.calls.append("add")
        args = content["parameters"]["args"]
        reply(MessageResult(sum(args), "added"))

    @RpcHandler("command", "divide")
    def divide(self, content: Any, reply: ReplyFunction) -> int:
        self.calls.append("divide")
        a, b = content["parameters"]["args"]
        return int(a // b)  # a returned value is the reply

    @RpcHandler("command", "refuse")
    def refuse(self, content: Any, reply: ReplyFunction) -> None:
        reply(MessageResultError("not today"))

    @RpcHandler("command", "slow")
    def slow(self, content: Any, reply: ReplyFunction) -> None:
        self.calls.append("slow")
        if len(self.calls) >= self.answer_from_attempt:
            reply(MessageResult(len(self.calls)))
        else:
            self.deferred.append(reply)


def _setup(
    connect: Connect, names: Names, clock: Clock, *, shared: bool = False, **producer_kw: Any
) -> tuple[Calculator, GenericProducer, type[Exchange]]:
    x = make_exchange(names.exchange())
    q = names.queue()
    processor_transport = connect()
    processor = Calculator(eqk=[(x, [(q, "calc")])], transport=processor_transport)

    class Producer(GenericProducer):
        eks = [(x, "calc")]

    producer = Producer(
        Fingerprint("caller"),
        transport=processor_transport if shared else connect(),
        clock=clock,
        **producer_kw,
    )
    return processor, producer, x


def test_rpc_round_trip_on_one_thread_sharing_a_transport(
    connect: Connect, names: Names, app_clock: Clock
) -> None:
    processor, producer, _ = _setup(connect, names, app_clock, shared=True)
    processor.start_consuming()
    reply = producer.rpc_add(2, 3, 4)  # waiting pumps the transport: the handler runs here
    assert isinstance(reply, MessageResult) and reply
    assert (reply.value, reply.message) == (9, "added")
    assert producer.rpc_divide(7, 2).value == 3
    assert processor.calls == ["add", "divide"]


def test_rpc_driven_step_by_step_with_separate_transports(
    connect: Connect, names: Names, app_clock: Clock
) -> None:
    processor, producer, _ = _setup(connect, names, app_clock)
    pending = producer.start_rpc_add(1, 1)
    assert not pending.done
    pump(processor, until=lambda: processor.calls == ["add"])
    assert pending.wait() == MessageResult(2, "added")


def test_rpc_with_the_processor_in_a_thread(
    connect: Connect, names: Names, app_clock: Clock
) -> None:
    processor, producer, _ = _setup(connect, names, app_clock)
    processor.start()
    try:
        assert producer.rpc_add(20, 22).value == 42
        refused = producer.rpc_refuse()
        assert isinstance(refused, MessageResultError) and not refused
        assert refused.message == "not today"
        missing = producer.rpc_unknown()
        assert isinstance(missing, MessageResultError)
        assert "Calculator has no RPC handler for command 'unknown'" in missing.message
    finally:
        processor.stop()


def test_rpc_handler_exception_is_answered_and_rejected(
    connect: Connect, names: Names, app_clock: Clock
) -> None:
    processor, producer, _ = _setup(connect, names, app_clock, shared=True)
    processor.start_consuming()
    reply = producer.rpc_divide(1, 0)
    assert isinstance(reply, MessageResultException) and not reply
    assert reply.exception_name == "ZeroDivisionError"
    assert "division" in reply.message
    assert producer.rpc_add(1).value == 1  # the processor keeps going


def test_rpc_times_out_after_retries(
    connect: Connect, names: Names, app_clock: Clock, elapse: Callable[[float], None],
    transport_kind: str,
) -> None:
    timeout = 5.0 if transport_kind == "memory" else 0.2
    processor, producer, _ = _setup(connect, names, app_clock)
    processor.answer_from_attempt = 99  # never answers
    pending = producer.start_rpc_slow(_timeout=timeout, _max_retry=2)
    for attempt in (1, 2, 3):
        pump(processor, until=lambda a=attempt: len(processor.calls) == a)  # type: ignore[misc]
        assert not pending.poll()
        elapse(timeout)
        pending.poll()
    assert pending.done
    result = pending.wait()
    assert isinstance(result, MessageResultException) and not result
    assert result.exception_name == "TimeoutError"
    assert "after 3 attempt(s)" in result.message
    settle(processor, transport_kind=transport_kind)
    assert len(processor.calls) == 3  # the retries were really sent, and no more
    assert producer.rpc_client.pending_count() == 0


def test_a_retry_gets_the_answer(
    connect: Connect, names: Names, app_clock: Clock, elapse: Callable[[float], None],
    transport_kind: str,
) -> None:
    timeout = 5.0 if transport_kind == "memory" else 0.2
    processor, producer, _ = _setup(connect, names, app_clock)
    processor.answer_from_attempt = 2
    pending = producer.start_rpc_slow(_timeout=timeout, _max_retry=3)
    pump(processor, until=lambda: len(processor.calls) == 1)
    elapse(timeout)
    assert not pending.poll()  # timed out: sent again
    pump(processor, until=lambda: len(processor.calls) == 2)
    assert pending.wait() == MessageResult(2)
    assert pending.attempts == 2


def test_blocking_rpc_timeout_from_a_thread(
    connect: Connect, names: Names, app_clock: Clock, elapse: Callable[[float], None],
    transport_kind: str,
) -> None:
    timeout = 5.0 if transport_kind == "memory" else 0.2
    processor, producer, _ = _setup(connect, names, app_clock)
    processor.answer_from_attempt = 99
    results: list[MessageResult] = []
    caller = threading.Thread(
        target=lambda: results.append(producer.rpc_slow(_timeout=timeout, _max_retry=1))
    )
    caller.start()
    for attempt in (1, 2):
        pump(processor, until=lambda a=attempt: len(processor.calls) == a)  # type: ignore[misc]
        elapse(timeout)
    caller.join(10)
    assert not caller.is_alive()
    [result] = results
    assert isinstance(result, MessageResultException)
    assert result.exception_name == "TimeoutError"


def test_late_replies_are_discarded(
    connect: Connect, names: Names, app_clock: Clock, elapse: Callable[[float], None],
    transport_kind: str,
) -> None:
    timeout = 5.0 if transport_kind == "memory" else 0.2
    processor, producer, _ = _setup(connect, names, app_clock)
    processor.answer_from_attempt = 99
    pending = producer.start_rpc_slow(_timeout=timeout, _max_retry=0)
    pump(processor, until=lambda: len(processor.deferred) == 1)
    elapse(timeout)
    assert pending.poll()
    assert isinstance(pending.wait(), MessageResultException)
    processor.deferred[0](MessageResult("too late"))  # the reply comes after all
    second = producer.start_rpc_add(5)
    pump(processor, until=lambda: "add" in processor.calls)
    assert second.wait() == MessageResult(5, "added")
    settle(producer.transport, transport_kind=transport_kind)
    assert pending.wait().value == "TimeoutError"
    assert producer.rpc_client.pending_count() == 0


def test_many_rpcs_in_flight_from_threads(
    connect: Connect, names: Names, app_clock: Clock
) -> None:
    processor, producer, _ = _setup(connect, names, app_clock)
    processor.start()
    results: dict[tuple[int, int], Any] = {}
    errors: list[BaseException] = []

    def caller(n: int) -> None:
        try:
            for i in range(5):
                results[(n, i)] = producer.rpc_add(n, i, _timeout=30).value
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
            raise

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    processor.stop()
    assert errors == []
    assert results == {(n, i): n + i for n in range(8) for i in range(5)}
    assert producer.rpc_client.pending_count() == 0


def test_queue_only_returns_the_reply_queue(
    connect: Connect, names: Names, app_clock: Clock
) -> None:
    processor, producer, _ = _setup(connect, names, app_clock)
    queue = producer.rpc_add(3, 4, _queue_only=True)
    assert isinstance(queue, str)
    pump(processor, until=lambda: processor.calls == ["add"])
    replies: list[Any] = []

    def fetched() -> bool:
        replies.append(producer.transport.get(queue, auto_ack=True))
        return replies[-1] is not None

    pump(producer.transport, until=fetched)
    delivery = replies[-1]
    assert Message.from_dict(JsonEncoder().decode(delivery.body)) == MessageResult(7, "added")


def test_msgpack_rpc(connect: Connect, names: Names, app_clock: Clock) -> None:
    processor, producer, _ = _setup(
        connect, names, app_clock, shared=True, encoder=MsgpackEncoder()
    )
    processor.start_consuming()
    assert producer.rpc_add(1, 2).value == 3  # JSON reply to a msgpack request: both decode


def test_rpc_without_direct_reply_to(names: Names, clock: ManualClock) -> None:
    """A transport without direct reply-to gets replies on a private server-named queue
    (the memory transport, with the feature turned off, stands in for one)."""
    from transports.memory import Broker, MemoryTransport

    class NoDirectReplyTo(MemoryTransport):
        @property
        def supports_direct_reply_to(self) -> bool:
            return False

    broker = Broker(clock=clock)
    x = make_exchange(names.exchange())
    processor = Calculator(eqk=[(x, [(names.queue(), "calc")])], transport=MemoryTransport(broker))

    class Producer(GenericProducer):
        eks = [(x, "calc")]

    producer = Producer(transport=NoDirectReplyTo(broker), clock=clock)
    pending = producer.start_rpc_add(2, 2)
    pump(processor, until=lambda: processor.calls == ["add"])
    assert pending.wait().value == 4
    reply_queue = producer.rpc_client.reply_queue()
    assert reply_queue.startswith("amq.gen-")


def test_an_rpc_nobody_serves_ends_soon_and_says_so_at_warning(
    names: Names, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The defaults (README): 5 s per attempt, one retry, a WARNING at each timeout."""
    from transports.memory import Broker, MemoryTransport

    broker = Broker(clock=clock)
    x = make_exchange(names.exchange())

    class Producer(GenericProducer):
        eks = [(x, "nobody")]

    producer = Producer(transport=MemoryTransport(broker), clock=clock)
    assert (producer.rpc_timeout, producer.max_retry) == (5.0, 1)
    with caplog.at_level(logging.WARNING, logger="msgbus.rpc"):
        pending = producer.start_rpc_lonely()
        clock.advance(4.9)
        assert not pending.poll() and not caplog.records
        clock.advance(0.1)
        assert not pending.poll()
        [retry] = caplog.records
        assert retry.levelno == logging.WARNING
        assert "'lonely'" in retry.getMessage() and "attempt 1 of 2" in retry.getMessage()
        clock.advance(5.0)
        assert pending.poll()
    result = pending.wait()
    assert isinstance(result, MessageResultException) and result.exception_name == "TimeoutError"
    assert "after 2 attempt(s) of 5s each" in result.message
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.WARNING]
