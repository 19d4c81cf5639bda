"""Bad AMQP URLs: no error echoes any part of the credentials, whatever characters they
hold unencoded; a malformed URL is a ValidationError; a host that does not resolve is a
ConnectionLost, and failover moves on to the next host."""

from __future__ import annotations

import logging
import socket
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import msgbus
from msgbus import errors
from transports.rabbitmq import RabbitMQTransport, parse_url

#: Recognisable pieces of a user name or password: none may appear in an error.
_tokens = st.text("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=6, max_size=8)
#: What a password may hold that a URL would need percent-encoded.
_specials = st.text("#/?@:[]%& ", min_size=1, max_size=3)


@settings(max_examples=200, deadline=None)
@given(user=_tokens, head=_tokens, special=_specials, tail=_tokens,
       rest=st.sampled_from(["host", "host:5672", "h1,h2:5673", "[::1]", "host:x"]),
       path=st.sampled_from(["", "/", "/vh", "/a/b", "/?heartbeat=x", "/?bogus=1"]))
def test_no_parse_error_echoes_the_credentials(
    user: str, head: str, special: str, tail: str, rest: str, path: str
) -> None:
    url = f"amqp://{user}:{head}{special}{tail}@{rest}{path}"
    try:
        parse_url(url)
    except errors.ValidationError as exc:
        text = f"{exc} {exc!r} {exc.args}"
        for secret in (user, head, tail):
            assert secret not in text, (url, text)


@pytest.mark.parametrize("special", ["#", "/", "?"])
def test_an_unencoded_character_in_a_password_is_refused_without_echo(special: str) -> None:
    url = f"amqp://app:s3cret{special}PW@broker.example/%2F"
    with pytest.raises(errors.ValidationError, match="Percent-encode") as info:
        msgbus.connect(url)
    assert "s3cret" not in str(info.value) and "PW" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("amqp://[::1/", "IPv6 address in its host part lacks its closing ']'"),
        ("amqps://guest:pw@[::1:5671/", "IPv6 address in its host part lacks its closing ']'"),
        ("memory://[", "malformed URL"),
    ],
)
def test_malformed_urls_are_validation_errors(url: str, message: str) -> None:
    with pytest.raises(errors.ValidationError, match=message) as info:
        msgbus.connect(url)
    assert "pw" not in str(info.value)


def test_an_unknown_scheme_with_user_info_is_not_echoed() -> None:
    with pytest.raises(errors.ValidationError, match="another scheme") as info:
        msgbus.connect("app:s3cretPW@broker.example")
    assert "s3cretPW" not in str(info.value) and "app" not in str(info.value)


def test_a_host_that_does_not_resolve_is_a_lost_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = "amqp://user:s3cretPW@no-such-host.invalid:5672/%2F"
    with caplog.at_level(logging.DEBUG), pytest.raises(errors.ConnectionLost) as info:
        RabbitMQTransport.from_url(url)
    assert "no-such-host.invalid" in str(info.value)
    assert "s3cretPW" not in str(info.value)
    assert not isinstance(info.value, socket.gaierror)


@pytest.mark.rabbitmq
def test_failover_skips_a_host_that_does_not_resolve(amqp_url: str) -> None:
    parts = urlsplit(amqp_url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    url = parts._replace(netloc=f"{userinfo}@no-such-host.invalid:5672,{hosts}").geturl()
    transport = RabbitMQTransport.from_url(url)
    try:
        queue = transport.declare_queue("", exclusive=True).name
        transport.publish("", queue, b"through the second host")
        assert transport.declare_queue(queue, passive=True).message_count in (0, 1)
    finally:
        transport.close()
