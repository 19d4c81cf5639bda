"""Differential tests: random bindings and messages routed by RabbitMQ and by our routers.

Each example declares one exchange, binds one queue per binding, publishes each message
with publisher confirms (so it is enqueued before we look), reads which queues got it, and
compares with ``Router.route``. The exchange is deleted after every example; the queues are
reused and deleted at the end of the test by the ``names`` fixture.
"""

from __future__ import annotations

import ast
import struct
from collections.abc import Iterator, Mapping
from typing import Any

import pika
import pika.data
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pika.adapters.blocking_connection import BlockingChannel

from msgbus.errors import PreconditionFailed
from tests.property import strategies as s
from tests.support import Names
from transports.memory.routing import Router, router_for, validate_binding_arguments

pytestmark = pytest.mark.rabbitmq

# One connection per test, reused by every example: the server state is reset per example.
per_test = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

Binding = tuple[str, Mapping[str, Any]]
Message = tuple[str, Mapping[str, Any] | None]


class Server:
    """A scratch exchange and queues on a real RabbitMQ."""

    def __init__(self, url: str, names: Names) -> None:
        self.names = names
        self.connection = pika.BlockingConnection(pika.URLParameters(url))
        self.channel = self.open_channel()
        self.exchange = names.exchange("x")
        self.queues: list[str] = []

    def open_channel(self) -> BlockingChannel:
        channel = self.connection.channel()
        channel.confirm_delivery()
        return channel

    def queue(self, index: int) -> str:
        while len(self.queues) <= index:
            name = self.names.queue(f"q{len(self.queues)}")
            self.channel.queue_declare(name)
            self.queues.append(name)
        return self.queues[index]

    def route(self, exchange_type: str, bindings: list[Binding],
              messages: list[Message]) -> list[set[int]]:
        """For each message, the indexes of the bindings whose queue received it."""
        queues = [self.queue(index) for index in range(len(bindings))]
        self.channel.exchange_declare(self.exchange, exchange_type)
        try:
            for queue, (routing_key, arguments) in zip(queues, bindings, strict=True):
                self.channel.queue_bind(queue, self.exchange, routing_key,
                                        arguments=dict(arguments))
            return [self.publish(routing_key, headers) for routing_key, headers in messages]
        finally:
            self.channel.exchange_delete(self.exchange)

    def publish(self, routing_key: str, headers: Mapping[str, Any] | None,
                exchange: str | None = None) -> set[int]:
        properties = pika.BasicProperties(headers=None if headers is None else dict(headers))
        self.channel.basic_publish(exchange or self.exchange, routing_key, b"", properties)
        got = set()
        for index, queue in enumerate(self.queues):
            method, _, _ = self.channel.basic_get(queue, auto_ack=True)
            if method is not None:
                got.add(index)
        return got

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()


@pytest.fixture
def server(amqp_url: str, names: Names) -> Iterator[Server]:
    made = Server(amqp_url, names)
    yield made
    made.close()


@pytest.fixture
def pika_sends_floats(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let pika send Python floats as AMQP doubles (``d``), as other clients do; pika alone
    refuses them."""
    encode_value = pika.data.encode_value

    def encode(pieces: list[bytes], value: Any) -> int:
        if isinstance(value, float):
            pieces.append(struct.pack(">cd", b"d", value))
            return 9
        return int(encode_value(pieces, value))

    monkeypatch.setattr(pika.data, "encode_value", encode)


def ours(exchange_type: str, bindings: list[Binding], messages: list[Message]) -> list[set[int]]:
    router: Router[int] = router_for(exchange_type)
    for index, (routing_key, arguments) in enumerate(bindings):
        router.bind(routing_key, arguments, index)
    return [router.route(routing_key, headers) for routing_key, headers in messages]


@per_test
@given(st.lists(s.topic_patterns, min_size=1, max_size=8),
       st.lists(s.routing_keys, min_size=1, max_size=4))
def test_topic_routing_matches_rabbitmq(server: Server, patterns: list[str],
                                        keys: list[str]) -> None:
    bindings: list[Binding] = [(pattern, {}) for pattern in patterns]
    messages: list[Message] = [(key, None) for key in keys]
    assert ours("topic", bindings, messages) == server.route("topic", bindings, messages)


@settings(per_test, max_examples=30)
@given(st.sampled_from(["direct", "fanout"]),
       st.lists(s.routing_keys | s.topic_patterns, min_size=1, max_size=5),
       st.lists(s.routing_keys, min_size=1, max_size=3))
def test_direct_and_fanout_routing_match_rabbitmq(server: Server, exchange_type: str,
                                                  binding_keys: list[str],
                                                  keys: list[str]) -> None:
    bindings: list[Binding] = [(key, {}) for key in binding_keys]
    messages: list[Message] = [(key, None) for key in keys + binding_keys[:1]]
    assert ours(exchange_type, bindings, messages) == server.route(exchange_type, bindings,
                                                                   messages)


@per_test
@given(st.lists(s.headers_bindings(floats=False), min_size=1, max_size=6),
       st.lists(s.header_tables(floats=False), min_size=1, max_size=4))
def test_headers_routing_matches_rabbitmq(server: Server, arguments: list[dict[str, Any]],
                                          headers: list[dict[str, Any] | None]) -> None:
    check_headers(server, arguments, headers)


def check_headers(server: Server, arguments: list[dict[str, Any]],
                  headers: list[dict[str, Any] | None]) -> None:
    bindings: list[Binding] = [("", a) for a in arguments]
    # Also publish each binding's own values as headers, so that matches are common.
    own = [{k: v for k, v in a.items() if k != "x-match"} for a in arguments]
    messages: list[Message] = [("", h) for h in [*headers, *own]]
    assert ours("headers", bindings, messages) == server.route("headers", bindings, messages)


@per_test
@given(st.lists(st.tuples(s.binding_arguments(floats=False), s.binding_arguments(floats=False)),
                min_size=1, max_size=4))
def test_binding_identity_matches_rabbitmq(server: Server,
                                           pairs: list[tuple[dict[str, Any], dict[str, Any]]]
                                           ) -> None:
    """Bind a queue with A then B, unbind A: the queue still gets messages iff B is not A."""
    router: Router[int] = router_for("direct")
    channel = server.channel
    channel.exchange_declare(server.exchange, "direct")
    try:
        for index, (first, second) in enumerate(pairs):
            queue = server.queue(index)
            for arguments in (first, second):
                channel.queue_bind(queue, server.exchange, "k", arguments=arguments)
                router.bind("k", arguments, index)
            channel.queue_unbind(queue, server.exchange, "k", arguments=first)
            assert router.unbind("k", first, index)
        assert router.route("k", None) == server.publish("k", None)
        assert len(router) == len(router.route("k", None))
    finally:
        channel.exchange_delete(server.exchange)


@settings(per_test, max_examples=60)
@given(s.x_match_values())
def test_bad_x_match_reply_text_matches_rabbitmq(server: Server, value: Any) -> None:
    check_x_match(server, value)


def check_x_match(server: Server, value: Any) -> None:
    arguments = {"x-match": value}
    try:
        validate_binding_arguments("headers", arguments)
        expected = None
    except PreconditionFailed as error:
        expected = error.reply_text
    channel = server.open_channel()
    channel.exchange_declare(server.exchange, "headers")
    try:
        channel.queue_bind(server.queue(0), server.exchange, "", arguments=arguments)
        got = None
    except pika.exceptions.ChannelClosedByBroker as error:
        assert error.reply_code == 406
        # A text that is not UTF-8 comes out of pika as the repr of its bytes ("b'...'").
        text = error.reply_text
        raw = ast.literal_eval(text) if text.startswith(("b'", 'b"')) else text.encode()
        got = raw.decode(errors="replace")
        channel = server.open_channel()
    finally:
        channel.exchange_delete(server.exchange)
        channel.close()
    assert got == expected


@settings(per_test, max_examples=60)
@given(st.lists(s.headers_bindings(), min_size=1, max_size=6),
       st.lists(s.header_tables(), min_size=1, max_size=4))
def test_headers_with_doubles_match_rabbitmq(pika_sends_floats: None, server: Server,
                                             arguments: list[dict[str, Any]],
                                             headers: list[dict[str, Any] | None]) -> None:
    check_headers(server, arguments, headers)


@settings(per_test, max_examples=60)
@given(st.one_of(st.floats(allow_nan=False, allow_infinity=False), s.x_match_values(floats=True)))
def test_x_match_doubles_print_as_on_rabbitmq(pika_sends_floats: None, server: Server,
                                              value: Any) -> None:
    check_x_match(server, value)
