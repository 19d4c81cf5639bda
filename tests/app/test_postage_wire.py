"""msgbus and Postage 1.x components on the same broker, on every transport.

Postage 1.x (Python 2, pika 0.x) cannot run here, so its side is played with the Transport
API, producing and consuming exactly what Postage 1.2 puts on the wire
(``docs/wire-format.md``, "Postage 1.x"):

- every body is ``json.dumps(body)`` with Python's default separators, ``version "2"``, and
  the fingerprint values ``str()``-ed (``"None"`` for an unset name or type);
- commands and RPC requests carry ``content_type`` and nothing else, an RPC request also
  ``reply_to``: an exclusive, auto-deleted, server-named queue declared for that attempt,
  and no ``correlation_id``;
- a command without a builder sends its one argument as its ``parameters``;
- an RPC reply is published to the default exchange with the request's ``reply_to`` as the
  routing key and **no properties at all**.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from msgbus import (
    Exchange,
    GenericProducer,
    MessageHandler,
    MessageProcessor,
    MessageResult,
    Properties,
    RpcHandler,
    ValidationError,
)
from msgbus.clock import Clock
from msgbus.errors import NotFound
from msgbus.handlers import ReplyFunction
from msgbus.transport import Transport
from msgbus.values import Delivery
from tests.app.conftest import make_exchange, pump
from tests.support import Names

Connect = Callable[[], Transport]

#: A Postage 1.x fingerprint: every value str()-ed.
POSTAGE_FINGERPRINT = {"name": "legacy", "type": "None", "pid": "4242", "host": "old-box",
                       "user": "ops", "vhost": "/"}
JSON = Properties(content_type="application/json")


def postage_body(mtype: str, name: str, category: str, content: dict[str, Any]) -> bytes:
    """A message as Postage 1.x encodes it."""
    return json.dumps({"type": mtype, "name": name, "category": category, "version": "2",
                       "fingerprint": POSTAGE_FINGERPRINT, "content": content,
                       "_reserved": {}}).encode()


def postage_result(value: Any, message: str = "") -> bytes:
    return postage_body("result", "none", "message",
                        {"type": "success", "value": value, "message": message})


def postage_reads_result(body: bytes) -> tuple[str, Any, Any]:
    """What Postage 1.x's consume_rpc reads of a reply (KeyError if it could not)."""
    reply = json.loads(body)
    content = reply["content"]
    return content["type"], content["value"], content["message"]


class Echo(MessageProcessor):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[Any] = []

    @MessageHandler("command", "echo")
    def on_echo(self, content: Any) -> None:
        self.seen.append(content)

    @RpcHandler("command", "shout")
    def shout(self, content: Any, reply: ReplyFunction) -> None:
        reply(MessageResult(str(content["parameters"]).upper(), "shouted"))


def _received(transport: Transport, queue: str) -> Delivery:
    got: list[Delivery] = []

    def take() -> bool:
        delivery = transport.get(queue, auto_ack=True)
        if delivery is not None:
            got.append(delivery)
        return bool(got)

    pump(transport, until=take)
    return got[0]


def _producer(x: type[Exchange], transport: Transport, clock: Clock,
              **options: Any) -> GenericProducer:
    class Producer(GenericProducer):
        eks = [(x, "k")]

    return Producer(transport=transport, clock=clock, **options)


# -- Postage speaks, msgbus listens ------------------------------------------------------


def test_a_postage_command_reaches_a_msgbus_handler(connect: Connect, names: Names) -> None:
    x = make_exchange(names.exchange())
    processor = Echo(eqk=[(x, [(names.queue(), "k")])], transport=connect())
    postage = connect()
    postage.publish(x.name, "k", postage_body("command", "echo", "message",
                                              {"parameters": "RPC test message"}), JSON)
    pump(processor, until=lambda: bool(processor.seen))
    assert processor.seen == [{"parameters": "RPC test message"}]


def test_a_postage_rpc_is_answered_where_postage_waits(connect: Connect, names: Names) -> None:
    x = make_exchange(names.exchange())
    processor = Echo(eqk=[(x, [(names.queue(), "k")])], transport=connect())
    postage = connect()
    reply_to = postage.declare_queue("", exclusive=True, auto_delete=True).name
    postage.publish(x.name, "k", postage_body("command", "shout", "rpc", {"parameters": "hi"}),
                    Properties(content_type="application/json", reply_to=reply_to))
    pump(processor, until=lambda: processor.handled == 1)
    assert postage_reads_result(_received(postage, reply_to).body) == ("success", "HI",
                                                                       "shouted")


# -- msgbus speaks, Postage listens ------------------------------------------------------


def test_a_postage_compatible_producer_sends_what_postage_sends(
    connect: Connect, names: Names, app_clock: Clock
) -> None:
    x = make_exchange(names.exchange())
    postage = connect()
    x.declare(postage)
    queue = postage.declare_queue(names.queue()).name
    postage.bind_queue(queue, x.name, "k")
    producer = _producer(x, connect(), app_clock, postage_compatible=True)
    producer.message_echo("RPC test message")
    producer.message_echo(parameters={"group_name": "g"})
    producer.message_echo()
    producer.message(1, 2, level=3)
    producer.message()
    contents = [json.loads(_received(postage, queue).body)["content"] for _ in range(5)]
    assert contents == [{"parameters": "RPC test message"}, {"parameters": {"group_name": "g"}},
                        {"parameters": {}}, {"args": [1, 2], "kwds": {"level": 3}}, {}]
    with pytest.raises(ValidationError, match=r"a Postage 1\.x command takes one value"):
        producer.message_echo("a", "b")


def test_a_postage_server_answers_without_a_correlation_id(
    connect: Connect, names: Names, app_clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    x = make_exchange(names.exchange())
    server = connect()
    x.declare(server)
    queue = server.declare_queue(names.queue()).name
    server.bind_queue(queue, x.name, "k")

    def serve_like_postage() -> str:
        request = _received(server, queue)
        assert json.loads(request.body)["name"] == "ping"
        assert request.properties.reply_to
        server.publish("", request.properties.reply_to, postage_result("pong"))  # no properties
        return request.properties.reply_to

    compatible = _producer(x, connect(), app_clock, postage_compatible=True)
    pending = compatible.start_rpc_ping("ping")
    reply_queue = serve_like_postage()
    result = pending.wait()
    assert result and type(result) is MessageResult and result.value == "pong"
    assert reply_queue.startswith("amq.gen-")  # a server-named queue of its own
    with pytest.raises(NotFound):  # gone with its consumer once the call was done
        compatible.transport.declare_queue(reply_queue, passive=True)

    # without the compatible mode such a reply cannot be matched: it is dropped, and said so
    plain = _producer(x, connect(), app_clock)
    with caplog.at_level(logging.WARNING, logger="msgbus.rpc"):
        dropped = plain.start_rpc_ping(parameters="ping", _max_retry=0)
        serve_like_postage()
        pump(plain.transport, until=lambda: any(
            "postage_compatible=True" in r.getMessage() for r in caplog.records))
    assert not dropped.done


def test_each_attempt_gets_its_own_reply_queue(
    connect: Connect, names: Names, app_clock: Clock, elapse: Callable[[float], None],
) -> None:
    """As Postage retried: a new queue per attempt; a late answer to the first attempt
    still completes the call."""
    x = make_exchange(names.exchange())
    server = connect()
    x.declare(server)
    queue = server.declare_queue(names.queue()).name
    server.bind_queue(queue, x.name, "k")
    producer = _producer(x, connect(), app_clock, postage_compatible=True)
    pending = producer.start_rpc_ping("ping", _timeout=5.0, _max_retry=1)
    first = _received(server, queue).properties.reply_to
    elapse(5.0)
    assert not pending.poll()
    second = _received(server, queue).properties.reply_to
    assert first and second and first != second
    server.publish("", first, postage_result("late but fine"))
    result = pending.wait()
    assert result and type(result) is MessageResult and result.value == "late but fine"
    assert pending.attempts == 2
