"""Producer → processor on every transport: dispatch, filters, routing, failures, run model."""

from __future__ import annotations

import copy
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest

from msgbus import (
    Exchange,
    Fingerprint,
    GenericProducer,
    Handler,
    JsonEncoder,
    Message,
    MessageFilter,
    MessageHandler,
    MessageHandlerFullBody,
    MessageProcessor,
    MsgpackEncoder,
    Properties,
)
from msgbus.transport import Transport
from tests.app.conftest import make_exchange, pump, settle
from tests.support import Names

Connect = Callable[[], Transport]


def _shout(content: dict[str, Any]) -> dict[str, Any]:
    return {**content, "shout": True}


def _number_two(content: dict[str, Any], suffix: str) -> dict[str, Any]:
    return {**content, "order": [*content.get("order", []), f"two{suffix}"]}


def _number_one(content: dict[str, Any]) -> dict[str, Any]:
    return {**content, "order": [*content.get("order", []), "one"]}


def _refuse_odd(content: dict[str, Any]) -> dict[str, Any]:
    if content["parameters"]["args"][0] % 2:
        raise ValueError("odd")
    return content


class Recorder(MessageProcessor):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[tuple[str, Any]] = []

    @MessageHandler("command", "echo")
    def on_echo(self, content: Any) -> None:
        self.seen.append(("echo", content))

    @MessageHandlerFullBody("command", "echo")
    def on_echo_body(self, body: Any) -> None:
        self.seen.append(("body", body["fingerprint"]["name"]))

    @MessageFilter(_number_two, "!")
    @MessageFilter(_number_one)
    @MessageHandler("command", "filtered")
    def on_filtered(self, content: Any) -> None:
        self.seen.append(("filtered", content["order"]))

    @MessageFilter(_refuse_odd)
    @MessageHandler("command", "even")
    def on_even(self, content: Any) -> None:
        self.seen.append(("even", content["parameters"]["args"][0]))

    @MessageHandler("command", "even")
    def on_any_number(self, content: Any) -> None:
        self.seen.append(("number", content["parameters"]["args"][0]))

    @MessageHandler("status")
    class Status(Handler):
        def call(self) -> None:
            processor = self.processor
            assert isinstance(processor, Recorder)
            processor.seen.append(("status", self.data["status"]))

    @MessageHandler("command", "fail")
    def on_fail(self, content: Any) -> None:
        raise RuntimeError("handler exploded")


def _producer(x: type[Exchange], key: str, transport: Transport, **kwargs: Any) -> GenericProducer:
    class Producer(GenericProducer):
        eks = [(x, key)]

    return Producer(Fingerprint("sender", "test"), transport=transport, **kwargs)


def test_message_reaches_every_handler(connect: Connect, names: Names) -> None:
    x = make_exchange(names.exchange())
    q = names.queue()
    processor = Recorder(eqk=[(x, [(q, "echo")])], transport=connect())
    producer = _producer(x, "echo", connect())
    producer.message_echo("hi", n=1)
    producer.message_filtered()
    producer.send(msgbus_status("online"))
    pump(processor, until=lambda: len(processor.seen) == 4)
    assert processor.seen == [
        ("echo", {"parameters": {"args": ["hi"], "kwargs": {"n": 1}}}),
        ("body", "sender"),
        ("filtered", ["one", "two!"]),
        ("status", "online"),
    ]


def msgbus_status(status: str) -> Any:
    from msgbus import MessageStatus

    return MessageStatus(status)


def test_producer_commands_on_the_wire_and_overridden_methods(
    connect: Connect, names: Names
) -> None:
    x = make_exchange(names.exchange())
    q = names.queue()
    probe = connect()
    probe.declare_exchange(x.name, "direct")
    probe.declare_queue(q)
    probe.bind_queue(q, x.name, "k")
    producer = _producer(x, "k", connect())

    def expected(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {
            "type": "command", "name": "job", "category": "message", "version": "2",
            "fingerprint": copy.deepcopy(producer.fingerprint),
            "content": {"parameters": {"args": list(args), "kwargs": kwargs}},
            "_reserved": {},
        }

    sent = [expected(1, mode="fast")]
    producer.message_job(1, mode="fast")
    producer.fingerprint["name"] = "renamed"  # the producer's fingerprint as it is then
    sent.append(expected("é\u2028", [2.5, None], nested={"a": [True]}))
    producer.message_job("é\u2028", [2.5, None], nested={"a": [True]})
    producer.fingerprint["extra"] = {"inside": 1}
    sent.append(expected())
    producer.message_job()
    producer.fingerprint["extra"]["inside"] = 2  # changed inside: seen all the same
    sent.append(expected())
    producer.message_job()
    pump(probe, until=lambda: probe.declare_queue(q, passive=True).message_count == 4)
    for body in sent:
        delivery = probe.get(q, auto_ack=True)
        assert delivery is not None
        assert delivery.properties.content_type == "application/json"
        assert delivery.body == JsonEncoder().encode(body)  # byte for byte
    assert json.loads(JsonEncoder().encode(sent[-1]))["fingerprint"]["extra"] == {"inside": 2}

    audited: list[Message] = []

    class Auditing(GenericProducer):
        eks = [(x, "k")]

        def send(self, message: Message, **kwargs: Any) -> None:
            audited.append(message)
            super().send(message, **kwargs)

    Auditing(transport=connect()).message_job(2)
    assert [m.content["parameters"]["args"] for m in audited] == [[2]]


def test_a_failing_filter_skips_only_its_handler(connect: Connect, names: Names) -> None:
    x = make_exchange(names.exchange())
    processor = Recorder(eqk=[(x, [(names.queue(), "k")])], transport=connect())
    producer = _producer(x, "k", connect())
    producer.message_even(1)
    producer.message_even(2)
    pump(processor, until=lambda: len(processor.seen) == 3)
    assert processor.seen == [("number", 1), ("even", 2), ("number", 2)]


def test_key_and_eks_overrides(connect: Connect, names: Names) -> None:
    x = make_exchange(names.exchange("x"))
    fan = make_exchange(names.exchange("fan"), "fanout")
    q1, q2, q3 = names.queue("one"), names.queue("two"), names.queue("three")
    processor = Recorder(
        eqk=[(x, [(q1, "echo"), (q2, "other")]), (fan, [(q3, "")])], transport=connect()
    )
    producer = _producer(x, "echo", connect())
    producer.message_echo(1, _key="other")
    producer.message_echo(2, _eks=[(fan, "ignored-by-fanout")], _key="not-used")
    producer.message_echo(3)
    pump(processor, until=lambda: len(processor.seen) == 6)
    queues_by_arg = {c["parameters"]["args"][0] for kind, c in processor.seen if kind == "echo"}
    assert queues_by_arg == {1, 2, 3}
    assert processor.consumer.queues == [q1, q2, q3]


def test_round_robin_vs_fanout(connect: Connect, names: Names) -> None:
    x = make_exchange(names.exchange())
    shared = names.queue("shared")

    def worker() -> Recorder:
        private = {"name": "", "flags": {"exclusive": True}}
        return Recorder(eqk=[(x, [(shared, "rr"), (private, "fan")])], transport=connect())

    a, b = worker(), worker()
    a.start_consuming()
    b.start_consuming()  # both consumers exist before the first message
    producer = _producer(x, "rr", connect())
    for i in range(4):
        producer.message_echo(i)
    for i in range(2):
        producer.message_echo(10 + i, _key="fan")

    def echoes(p: Recorder) -> list[int]:
        return [c["parameters"]["args"][0] for kind, c in p.seen if kind == "echo"]

    pump(a, b, until=lambda: len(echoes(a)) + len(echoes(b)) == 8)
    rr_a = [n for n in echoes(a) if n < 10]
    rr_b = [n for n in echoes(b) if n < 10]
    assert sorted(rr_a + rr_b) == [0, 1, 2, 3] and rr_a and rr_b
    assert [n for n in echoes(a) if n >= 10] == [10, 11]
    assert [n for n in echoes(b) if n >= 10] == [10, 11]


def test_handler_exception_is_logged_and_dead_lettered(
    connect: Connect, names: Names, caplog: pytest.LogCaptureFixture
) -> None:
    x = make_exchange(names.exchange("x"))
    dlx = make_exchange(names.exchange("dlx"), "fanout")
    q, dlq = names.queue("work"), names.queue("dead")
    dead = Recorder(eqk=[(dlx, [(dlq, "")])], transport=connect())  # declares the DLX + DLQ
    work_queue = {"name": q, "flags": {"arguments": {"x-dead-letter-exchange": dlx.name}}}
    processor = Recorder(eqk=[(x, [(work_queue, "k")])], transport=connect())
    producer = _producer(x, "k", connect())
    with caplog.at_level(logging.ERROR, logger="msgbus.processor"):
        producer.message_fail()
        producer.message_echo("after")
        pump(processor, until=lambda: processor.handled == 2)
    assert [kind for kind, _ in processor.seen] == ["echo", "body"]  # kept running
    [record] = [r for r in caplog.records if "on_fail" in r.getMessage()]
    assert record.exc_info is not None and "handler exploded" in str(record.exc_info[1])
    probe = connect()
    pump(probe, until=lambda: probe.declare_queue(dlq, passive=True).message_count == 1)
    assert probe.declare_queue(q, passive=True).message_count == 0
    dead_letter = probe.get(dlq, auto_ack=True)
    assert dead_letter is not None and b'"fail"' in dead_letter.body
    assert dead.handled == 0


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"\x80not json", "application/json", "expects a UTF-8 JSON document"),
        (b"[1, 2]", "application/json", "a message must be a JSON object/mapping, got list"),
        (b'{"type": "command", "name": "x"}', None, "a message needs the key 'category'"),
        (b"\x80\x04K.", "application/x-python-pickle", "no decoder for content type"),
        (b'{"a":' * 50_000, "application/json", "nested too deeply"),
        (b"[" * 50_000 + b"]" * 50_000, None, "nested too deeply"),
    ],
)
def test_undecodable_bodies_are_logged_and_rejected(
    connect: Connect,
    names: Names,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str | None,
    reason: str,
) -> None:
    x = make_exchange(names.exchange("x"))
    dlx = make_exchange(names.exchange("dlx"), "fanout")
    q, dlq = names.queue("work"), names.queue("dead")
    Recorder(eqk=[(dlx, [(dlq, "")])], transport=connect())
    work_queue = {"name": q, "flags": {"arguments": {"x-dead-letter-exchange": dlx.name}}}
    processor = Recorder(eqk=[(x, [(work_queue, "k")])], transport=connect())
    sender = connect()
    sender.publish(x.name, "k", body, Properties(content_type=content_type))
    _producer(x, "k", sender).message_echo("still alive")
    with caplog.at_level(logging.ERROR, logger="msgbus.processor"):
        pump(processor, until=lambda: processor.handled == 2)
    assert [kind for kind, _ in processor.seen] == ["echo", "body"]
    assert any(reason in r.getMessage() for r in caplog.records)
    pump(sender, until=lambda: sender.declare_queue(dlq, passive=True).message_count == 1)
    dead = sender.get(dlq, auto_ack=True)
    assert dead is not None and dead.body == body


def test_msgpack_is_decoded_by_content_type(connect: Connect, names: Names) -> None:
    x = make_exchange(names.exchange())
    processor = Recorder(eqk=[(x, [(names.queue(), "k")])], transport=connect())
    producer = _producer(x, "k", connect(), encoder=MsgpackEncoder())
    producer.message_echo(b"raw".decode(), [1, 2])
    pump(processor, until=lambda: len(processor.seen) == 2)
    assert processor.seen[0] == ("echo", {"parameters": {"args": ["raw", [1, 2]], "kwargs": {}}})


def test_nothing_is_acked_before_its_handlers_ran(connect: Connect, names: Names) -> None:
    x = make_exchange(names.exchange())
    q = names.queue()

    class Interrupted(Exception):
        pass

    class Dies(MessageProcessor):
        @MessageHandler("command", "echo")
        def on_echo(self, content: Any) -> None:
            raise KeyboardInterrupt  # not a handler failure: escapes, like a crash

    processor = Dies(eqk=[(x, [(q, "k")])], transport=connect())
    _producer(x, "k", connect()).message_echo("precious")
    with pytest.raises(KeyboardInterrupt):
        pump(processor, until=lambda: False)
    processor.transport.close()  # the crash: the unacked message goes back
    probe = connect()
    pump(probe, until=lambda: probe.declare_queue(q, passive=True).message_count == 1)
    again = probe.get(q, auto_ack=True)
    assert again is not None and again.redelivered and b"precious" in again.body


def test_quit_stops_run_and_later_messages_stay_queued(connect: Connect, names: Names) -> None:
    x = make_exchange(names.exchange())
    q = names.queue()
    processor = Recorder(eqk=[(x, [(q, "k")])], transport=connect(), prefetch=10,
                         remote_control=True)
    producer = _producer(x, "k", connect())
    producer.message_echo(1)
    producer.message_quit()
    producer.message_echo(2)
    processor.run()  # returns by itself
    assert not processor.running
    assert [c["parameters"]["args"][0] for kind, c in processor.seen if kind == "echo"] == [1]
    processor.transport.close()
    probe = connect()
    pump(probe, until=lambda: probe.declare_queue(q, passive=True).message_count == 1)
    left = probe.get(q, auto_ack=True)
    assert left is not None and b'"echo"' in left.body


def test_restart_acks_then_calls_restart(connect: Connect, names: Names) -> None:
    x = make_exchange(names.exchange())
    q = names.queue()

    class Restartable(Recorder):
        restarts = 0

        def restart(self) -> None:
            self.restarts += 1

    processor = Restartable(eqk=[(x, [(q, "k")])], transport=connect(), remote_control=True)
    _producer(x, "k", connect()).message_restart()
    processor.run()
    assert processor.restarts == 1 and not processor.running
    processor.transport.close()
    probe = connect()
    assert probe.declare_queue(q, passive=True).message_count == 0


def test_start_and_stop_in_a_thread(connect: Connect, names: Names) -> None:
    x = make_exchange(names.exchange())
    got = threading.Event()

    class Threaded(MessageProcessor):
        @MessageHandler("command", "ping")
        def on_ping(self, content: Any) -> None:
            got.set()

    processor = Threaded(eqk=[(x, [(names.queue(), "k")])], transport=connect()).start()
    _producer(x, "k", connect()).message_ping()
    assert got.wait(10)
    processor.stop()
    assert not processor.running


def test_queue_bind_and_unbind_at_run_time(
    connect: Connect, names: Names, transport_kind: str
) -> None:
    x = make_exchange(names.exchange())
    q1, q2 = names.queue("one"), names.queue("two")
    processor = Recorder(eqk=[(x, [(q1, "first")])], transport=connect())
    processor.process_events()  # consuming now
    producer = _producer(x, "first", connect())
    processor.queue_bind(x, q2, "second")
    producer.message_echo("via second", _key="second")
    pump(processor, until=lambda: len(processor.seen) == 2)
    processor.queue_unbind(x, q2, "second")
    producer.message_echo("unrouted", _key="second")
    producer.message_echo("via first")
    pump(processor, until=lambda: len(processor.seen) == 4)
    settle(processor, transport_kind=transport_kind)
    texts = [c["parameters"]["args"][0] for kind, c in processor.seen if kind == "echo"]
    assert texts == ["via second", "via first"]


def test_generic_message_and_forward(connect: Connect, names: Names) -> None:
    x = make_exchange(names.exchange())
    got: list[Any] = []

    class Generic(MessageProcessor):
        @MessageHandlerFullBody("none", "none")
        def anything(self, body: Any) -> None:
            got.append(body)

    processor = Generic(eqk=[(x, [(names.queue(), "k")])], transport=connect())
    producer = _producer(x, "k", connect())
    producer.message(1, "two", values=[3])
    pump(processor, until=lambda: len(got) == 1)
    assert got[0]["content"] == {"args": [1, "two"], "kwargs": {"values": [3]}}
    assert got[0]["fingerprint"]["name"] == "sender"
    producer.forward({**got[0], "content": {"forwarded": True}})
    pump(processor, until=lambda: len(got) == 2)
    assert got[1]["content"] == {"forwarded": True}
