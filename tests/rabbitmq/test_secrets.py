"""Passwords never show in reprs, error messages, tracebacks or logs."""

from __future__ import annotations

import logging
import socket
import traceback
from urllib.parse import urlsplit, urlunsplit

import pytest

from msgbus import errors
from transports.rabbitmq import RabbitMQTransport

SECRET = "hunter2-Secret-Passw0rd"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _everything_said(exc: BaseException, caplog: pytest.LogCaptureFixture) -> str:
    told = "".join(traceback.format_exception(exc))
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text}" for r in caplog.records)
    return f"{told}\n{logged}\n{exc!r}"


def test_unreachable_broker(caplog: pytest.LogCaptureFixture) -> None:
    url = f"amqp://user:{SECRET}@127.0.0.1:{_free_port()}/%2F"
    with caplog.at_level(logging.DEBUG), pytest.raises(errors.ConnectionLost) as info:
        RabbitMQTransport.from_url(url)
    assert "cannot connect to amqp://user:***@127.0.0.1:" in str(info.value)
    assert SECRET not in _everything_said(info.value, caplog)


@pytest.mark.rabbitmq
def test_wrong_password(amqp_url: str, caplog: pytest.LogCaptureFixture) -> None:
    parts = urlsplit(amqp_url)
    host = parts.netloc.rpartition("@")[2]
    url = urlunsplit(parts._replace(netloc=f"guest:{SECRET}@{host}"))
    with caplog.at_level(logging.DEBUG), pytest.raises(errors.AccessRefused) as info:
        RabbitMQTransport.from_url(url)
    assert info.value.reply_code == 403
    assert SECRET not in _everything_said(info.value, caplog)


@pytest.mark.rabbitmq
def test_repr_and_logs_of_a_working_transport(
    amqp_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        transport = RabbitMQTransport.from_url(amqp_url)
        password = urlsplit(amqp_url).password
        assert password
        text = repr(transport)
        assert f":{password}@" not in text and ":***@" in text
        transport.close()
    assert all(f":{password}@" not in r.getMessage() for r in caplog.records)
