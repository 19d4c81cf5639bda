"""Channel and connection errors over the wire, one table: what a pika client does, and the
error RabbitMQ 3.10 answers with (its class of exception, reply code and text, and whether
the connection survives). Connection errors close the connection, channel errors only the
channel; the server must tell them apart as RabbitMQ does."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pika
import pika.exceptions
import pytest
from pika import spec

from tests.clients.conftest import Unique

Scenario = Callable[[Any, Unique], None]


def _flow_off(connection: Any, _: Unique) -> None:
    connection.channel().flow(False)


def _prefetch_size(connection: Any, _: Unique) -> None:
    connection.channel().basic_qos(prefetch_size=1)


def _reserved_name(connection: Any, _: Unique) -> None:
    connection.channel().queue_declare("amq.mine")


def _user_id(connection: Any, unique: Unique) -> None:
    channel = connection.channel()
    channel.basic_publish("", unique(), b"x", pika.BasicProperties(user_id="bob"))
    channel.queue_declare("", exclusive=True)


def _reply_to_without_consumer(connection: Any, unique: Unique) -> None:
    channel = connection.channel()
    channel.basic_publish("", unique(), b"x", pika.BasicProperties(
        reply_to="amq.rabbitmq.reply-to"))
    channel.queue_declare("", exclusive=True)


def _reply_consumer_with_acks(connection: Any, _: Unique) -> None:
    connection.channel().basic_consume("amq.rabbitmq.reply-to", lambda *_: None)


def _tx_then_confirm(connection: Any, _: Unique) -> None:
    channel = connection.channel()
    channel.tx_select()
    channel.confirm_delivery()


def _bad_expiration(connection: Any, unique: Unique) -> None:
    channel = connection.channel()
    channel.basic_publish("", unique(), b"x", pika.BasicProperties(expiration="-1"))
    channel.queue_declare("", exclusive=True)


def _delivery_mode(connection: Any, unique: Unique) -> None:
    channel = connection.channel()
    channel.basic_publish("", unique(), b"x", pika.BasicProperties(delivery_mode=3))
    channel.queue_declare("", exclusive=True)


def _internal_exchange(connection: Any, unique: Unique) -> None:
    channel = connection.channel()
    name = unique.exchange("internal")
    channel.exchange_declare(name, "fanout", internal=True)
    channel.basic_publish(name, "", b"x")
    channel.queue_declare("", exclusive=True)


def _max_priority(connection: Any, _: Unique) -> None:
    connection.channel().queue_declare("", exclusive=True, arguments={"x-max-priority": 300})


def _passive_nowait(connection: Any, unique: Unique) -> None:
    channel = connection.channel()
    channel._impl._send_method(spec.Queue.Declare(queue=unique("missing"), passive=True,
                                                  nowait=True))
    channel.queue_declare("", exclusive=True)


def _oversized_header(connection: Any, unique: Unique) -> None:
    channel = connection.channel()
    headers = {f"k{i}": "v" * 100 for i in range(2000)}  # a 220 KB content header
    channel.basic_publish("", unique(), b"x", pika.BasicProperties(headers=headers))
    channel.queue_declare("", exclusive=True)


CHANNEL = "ChannelClosedByBroker"
CONNECTION = "ConnectionClosedByBroker"
SCENARIOS: dict[str, tuple[Scenario, str, int, str]] = {
    "flow-off": (_flow_off, CONNECTION, 540, "NOT_IMPLEMENTED - active=false"),
    "prefetch-size": (_prefetch_size, CONNECTION, 540,
                      "NOT_IMPLEMENTED - prefetch_size!=0 (1)"),
    "reserved-name": (_reserved_name, CHANNEL, 403,
                      "ACCESS_REFUSED - queue name 'amq.mine' contains reserved prefix 'amq.*'"),
    "user-id": (_user_id, CHANNEL, 406, "PRECONDITION_FAILED - user_id property set to 'bob' "
                                        "but authenticated user was 'guest'"),
    "reply-to-without-consumer": (_reply_to_without_consumer, CHANNEL, 406,
                                  "PRECONDITION_FAILED - fast reply consumer does not exist"),
    "reply-consumer-with-acks": (_reply_consumer_with_acks, CHANNEL, 406,
                                 "PRECONDITION_FAILED - reply consumer cannot acknowledge"),
    "tx-then-confirm": (_tx_then_confirm, CHANNEL, 406,
                        "PRECONDITION_FAILED - cannot switch from tx to confirm mode"),
    "bad-expiration": (_bad_expiration, CHANNEL, 406,
                       "PRECONDITION_FAILED - invalid expiration '-1': {value_negative,-1}"),
    "delivery-mode": (_delivery_mode, CHANNEL, 406,
                      "PRECONDITION_FAILED - invalid message: {delivery_mode_unknown,3}"),
    "internal-exchange": (_internal_exchange, CHANNEL, 403,
                          "ACCESS_REFUSED - cannot publish to internal exchange '<X>' in "
                          "vhost '/'"),
    "max-priority": (_max_priority, CHANNEL, 406,
                     "PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'GEN' in "
                     "vhost '/': {max_value_exceeded,300}"),
    "passive-nowait": (_passive_nowait, CHANNEL, 404,
                       "NOT_FOUND - no queue '<MISSING>' in vhost '/'"),
    "oversized-header": (_oversized_header, CONNECTION, 501,
                         "FRAME_ERROR - type 2, all octets = <<>>: "
                         "{frame_too_large,220908,131064}"),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_error_answer(server_url: str, unique: Unique, name: str) -> None:
    scenario, kind, code, text = SCENARIOS[name]
    connection = pika.BlockingConnection(pika.URLParameters(server_url))
    try:
        with pytest.raises((pika.exceptions.ChannelClosedByBroker,
                            pika.exceptions.ConnectionClosedByBroker)) as error:
            scenario(connection, unique)
        assert type(error.value).__name__ == kind
        expected = text.replace("<X>", f"{unique.prefix}.internal").replace(
            "<MISSING>", f"{unique.prefix}.missing")
        got = re.sub(r"amq\.gen-[\w-]{22}", "GEN", error.value.reply_text)
        assert (error.value.reply_code, got) == (code, expected)
        assert connection.is_open == (kind == CHANNEL)
    finally:
        if connection.is_open:
            connection.close()
