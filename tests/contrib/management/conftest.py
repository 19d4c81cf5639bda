"""Fixtures of the management API tests: a ``ManagementServer`` on the test's broker, an
HTTP client that sends paths exactly as written (``%2F`` stays ``%2F``), and RabbitMQ's own
management API for the differential tests (``MSGBUS_TEST_MANAGEMENT_URL``, else port 15672
of the host of ``MSGBUS_TEST_AMQP_URL``)."""

from __future__ import annotations

import base64
import http.client
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from contrib.amqp_server import AmqpServer
from contrib.management import ManagementServer
from transports.memory import Broker

REQUIRE_RABBITMQ = os.environ.get("MSGBUS_REQUIRE_RABBITMQ") == "1"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Http:
    """``http(method, path, body)``: one request with Basic auth (``guest``/``guest`` unless
    told); ``body`` is sent as JSON, or as it is when it is ``bytes``."""

    def __init__(self, base_url: str, username: str = "guest", password: str = "guest") -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.username = username
        self.password = password

    def __call__(self, method: str, path: str, body: Any = None, *,
                 auth: tuple[str, str] | None = None, send_auth: bool = True,
                 headers: dict[str, str] | None = None) -> Reply:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        headers = dict(headers or {})
        if send_auth:
            username, password = auth or (self.username, self.password)
            token = base64.b64encode(f"{username}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            connection.request(method, path, data, headers)
            response = connection.getresponse()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()},
                         response.read())
        finally:
            connection.close()


@pytest.fixture
def mgmt(msgbus_broker: Broker) -> Iterator[ManagementServer]:
    with ManagementServer(msgbus_broker, port=0) as server:
        yield server


@pytest.fixture
def http_api(mgmt: ManagementServer) -> Http:
    return Http(mgmt.url)


def management_url() -> str | None:
    url = os.environ.get("MSGBUS_TEST_MANAGEMENT_URL")
    if url:
        return url
    amqp = os.environ.get("MSGBUS_TEST_AMQP_URL")
    if not amqp:
        return None
    parts = urlsplit(amqp)
    user = unquote(parts.username or "guest")
    password = unquote(parts.password or "guest")
    return f"http://{user}:{password}@{parts.hostname or '127.0.0.1'}:15672/"


@pytest.fixture(scope="session")
def rabbitmq_http() -> Http:
    """RabbitMQ's management API (the differential tests' ground truth)."""
    url = management_url()
    reason = ("NO RABBITMQ MANAGEMENT API: set MSGBUS_TEST_MANAGEMENT_URL (or "
              "MSGBUS_TEST_AMQP_URL, whose host then serves it on port 15672), or run "
              "scripts/test, which enables the plugin on its node")
    if url is not None:
        parts = urlsplit(url)
        client = Http(url, unquote(parts.username or "guest"), unquote(parts.password or "guest"))
        try:
            if client("GET", "/api/overview").status == 200:
                return client
        except OSError as error:
            reason = f"{reason} ({url.split('@')[-1]} did not answer: {error})"
    if REQUIRE_RABBITMQ:
        pytest.fail(f"MSGBUS_REQUIRE_RABBITMQ=1: {reason}")
    pytest.skip(reason)


@contextmanager
def fresh_vhost(client: Http) -> Iterator[str]:
    """A vhost of its own on RabbitMQ (deleted afterwards), whose objects and counters are
    the caller's alone."""
    vhost = f"msgbus-test-{uuid.uuid4().hex[:12]}"
    assert client("PUT", f"/api/vhosts/{vhost}", {}).status in (201, 204)
    try:
        assert client("PUT", f"/api/permissions/{vhost}/{client.username}",
                      {"configure": ".*", "write": ".*", "read": ".*"}).status in (201, 204)
        yield vhost
    finally:
        client("DELETE", f"/api/vhosts/{vhost}")


@pytest.fixture
def rabbitmq_vhost(rabbitmq_http: Http) -> Iterator[str]:
    """A vhost of the test's own on RabbitMQ (see :func:`fresh_vhost`)."""
    with fresh_vhost(rabbitmq_http) as vhost:
        yield vhost


Side = tuple[str, "Http"]


@pytest.fixture(params=["embedded", "rabbitmq"])
def side(request: pytest.FixtureRequest) -> Iterator[Side]:
    """An AMQP URL and the management API of the same server: RabbitMQ's, or a fresh
    embedded one (a broker served over AMQP with its management API beside it)."""
    if request.param == "rabbitmq":
        request.applymarker(pytest.mark.rabbitmq)
        yield os.environ.get("MSGBUS_TEST_AMQP_URL", ""), request.getfixturevalue(
            "rabbitmq_http")
        return
    broker = Broker()
    with AmqpServer(broker, port=0) as server, \
            ManagementServer(broker, port=0, amqp=server) as mgmt:
        yield server.url, Http(mgmt.url)
