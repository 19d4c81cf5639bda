"""pika's exceptions and properties, translated at the boundary (no server needed)."""

from __future__ import annotations

import dataclasses

import pika
import pytest
from pika import exceptions as px
from pika.adapters.blocking_connection import ReturnedMessage

import transports.rabbitmq
from msgbus import errors
from msgbus.values import DeliveryMode, Properties
from transports.rabbitmq import _errors
from transports.rabbitmq._properties import from_pika, to_pika
from transports.rabbitmq.events import RecoveryPolicy


def test_public_surface() -> None:
    assert sorted(transports.rabbitmq.__all__) == [
        "ConnectionConfig", "ConnectionEvent", "ConnectionListener", "ConnectionState",
        "HostPort", "RabbitMQTransport", "RecoveryPolicy", "TLSOptions", "parse_url",
    ]


@pytest.mark.parametrize(
    ("code", "cls"),
    [(403, errors.AccessRefused), (404, errors.NotFound), (405, errors.ResourceLocked),
     (406, errors.PreconditionFailed)],
)
def test_channel_errors_keep_code_and_text(code: int, cls: type[errors.AMQPError]) -> None:
    error = _errors.translate(px.ChannelClosedByBroker(code, "TEXT - detail"))
    assert type(error) is cls
    assert isinstance(error, errors.ChannelClosed)
    assert (error.reply_code, error.reply_text) == (code, "TEXT - detail")
    assert _errors.is_channel_error(px.ChannelClosedByBroker(code, "x"))


def test_connection_errors() -> None:
    error = _errors.translate(px.ConnectionClosedByBroker(503, "COMMAND_INVALID - bad"))
    assert isinstance(error, errors.CommandInvalid)
    forced = px.ConnectionClosedByBroker(320, "CONNECTION_FORCED - test")
    assert isinstance(_errors.translate(forced), errors.ConnectionForced)
    assert _errors.is_connection_loss(forced)
    assert not _errors.is_connection_loss(px.ConnectionClosedByBroker(503, "x"))
    assert _errors.is_connection_loss(px.StreamLostError("reset"))
    assert _errors.is_connection_loss(px.AMQPHeartbeatTimeout("late"))
    lost = _errors.translate(px.StreamLostError("reset"), "amqp://u:***@h:1/%2F")
    assert isinstance(lost, errors.ConnectionLost)
    assert "amqp://u:***@h:1/%2F" in str(lost)


def test_returned_and_nacked_publishes() -> None:
    method = pika.spec.Basic.Return(312, "NO_ROUTE", "ex", "key")
    returned = ReturnedMessage(method, pika.BasicProperties(), b"body")
    unroutable = _errors.translate(px.UnroutableError([returned]))
    assert isinstance(unroutable, errors.Unroutable)
    assert (unroutable.exchange, unroutable.routing_key, unroutable.reply_code,
            unroutable.reply_text) == ("ex", "key", 312, "NO_ROUTE")
    nacked = _errors.translate(px.NackError([]), target=("ex", "key"))
    assert isinstance(nacked, errors.PublishNacked)
    assert (nacked.exchange, nacked.routing_key) == ("ex", "key")


def test_login_refused_and_blocked() -> None:
    assert isinstance(
        _errors.translate(px.ProbableAuthenticationError("ACCESS_REFUSED")), errors.AccessRefused
    )
    assert isinstance(_errors.translate(px.ProbableAccessDeniedError("x")), errors.NotAllowed)
    assert isinstance(
        _errors.translate(px.ConnectionBlockedTimeout()), errors.DeliveryTimeout
    )


def test_unknown_delivery_tag_text_is_offset() -> None:
    text = "PRECONDITION_FAILED - unknown delivery tag 3"
    assert _errors.offset_unknown_tag(text, 10) == "PRECONDITION_FAILED - unknown delivery tag 13"
    assert _errors.offset_unknown_tag("NOT_FOUND - x", 10) == "NOT_FOUND - x"


def test_properties_both_ways() -> None:
    props = Properties(
        content_type="text/plain", content_encoding="gzip",
        headers={"a": {"b": [1, "c", b"d"]}}, delivery_mode=2, priority=3,
        correlation_id="c", reply_to="r", expiration="10", message_id="m", timestamp=5,
        type="t", user_id="u", app_id="app", cluster_id="cl",
    )
    converted = to_pika(props)
    assert converted is not None
    assert converted.delivery_mode == 2 and converted.headers == {"a": {"b": [1, "c", b"d"]}}
    for field in dataclasses.fields(Properties):  # each under its own name (all differ)
        sent = getattr(props, field.name)
        assert getattr(converted, field.name) == sent, field.name
    back = from_pika(converted)
    assert back == props
    assert back.delivery_mode is DeliveryMode.PERSISTENT
    assert to_pika(Properties()) is None and to_pika(None) is None
    assert from_pika(pika.BasicProperties()) == Properties()


def test_recovery_policy_backoff() -> None:
    policy = RecoveryPolicy(initial_delay=0.5, max_delay=3.0, multiplier=2.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.0, 0.5, 1.0, 2.0, 3.0]
    slow = RecoveryPolicy(initial_delay=1.0, immediate_first=False)
    assert slow.delay(1) == 1.0
    with pytest.raises(errors.ValidationError, match="max_attempts must be >= 0, got -1"):
        RecoveryPolicy(max_attempts=-1)
    with pytest.raises(errors.ValidationError, match=r"multiplier=0\.5"):
        RecoveryPolicy(multiplier=0.5)
