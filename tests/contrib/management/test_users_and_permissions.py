"""Users, permissions, virtual hosts and health checks over the management API, sent to
RabbitMQ 3.10 and to ``ManagementServer`` alike: the status codes and bodies must be equal
(a password hash is salted afresh, so only its presence is compared). Client libraries'
management wrappers (amqpstorm's, for one) create a vhost, a user and its permissions
before anything else, and ping ``aliveness-test`` and the health checks."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import pika
import pika.exceptions
import pytest

from contrib.amqp_server import AmqpServer
from contrib.management import ManagementServer
from tests.contrib.management.conftest import Http, Reply
from transports.memory import Broker

pytestmark = pytest.mark.rabbitmq

PERMIT = {"configure": ".*", "write": ".*", "read": ".*"}


def _answer(reply: Reply) -> Any:
    if not reply.body:
        return reply.status
    data = reply.json()
    items = data if isinstance(data, list) else [data]
    for item in items:
        if isinstance(item, dict) and item.get("password_hash"):
            item["password_hash"] = "<salted>"
    return reply.status, data


@pytest.fixture
def names(rabbitmq_http: Http) -> Iterator[dict[str, str]]:
    """A user and a vhost name no other test uses; deleted from RabbitMQ afterwards."""
    tag = uuid.uuid4().hex[:10]
    made = {"u": f"msgbus-test-user-{tag}", "v": f"msgbus-test-vhost-{tag}"}
    yield made
    for suffix in ("", "2", "3", "4"):
        rabbitmq_http("DELETE", f"/api/users/{made['u']}{suffix}")
    rabbitmq_http("DELETE", f"/api/vhosts/{made['v']}")


def _scenario(client: Http, u: str, v: str) -> list[Any]:
    def call(method: str, path: str, body: Any = None,
             auth: tuple[str, str] | None = None) -> Any:
        return (method, path, _answer(client(method, path, body, auth=auth)))

    return [
        call("PUT", f"/api/users/{u}", {"password": "p", "tags": "monitoring,management"}),
        call("PUT", f"/api/users/{u}", {"password": "p", "tags": "monitoring"}),
        call("GET", f"/api/users/{u}"),
        call("GET", "/api/whoami", auth=(u, "p")),
        call("GET", "/api/whoami", auth=(u, "wrong")),
        call("PUT", f"/api/users/{u}2", {"password": "p"}),
        call("PUT", f"/api/users/{u}2", b"{bad"),
        call("PUT", f"/api/users/{u}3", {"tags": ["a", "b"]}),
        call("GET", f"/api/users/{u}3"),
        call("PUT", f"/api/users/{u}4", {"password": "p", "tags": ""}),
        call("GET", "/api/whoami", auth=(f"{u}4", "p")),
        call("PUT", f"/api/vhosts/{v}", {}),
        call("PUT", f"/api/vhosts/{v}", {}),
        call("GET", f"/api/vhosts/{v}/permissions"),
        call("PUT", f"/api/permissions/{v}/{u}", PERMIT),
        call("PUT", f"/api/permissions/{v}/{u}", {**PERMIT, "write": "^w"}),
        call("GET", f"/api/permissions/{v}/{u}"),
        call("GET", f"/api/users/{u}/permissions"),
        call("GET", f"/api/vhosts/{v}/permissions"),
        call("PUT", f"/api/permissions/{v}/{u}", {"configure": ".*"}),
        call("PUT", f"/api/permissions/{v}/{u}-missing", PERMIT),
        call("PUT", f"/api/permissions/{v}-missing/{u}", PERMIT),
        call("GET", f"/api/permissions/{v}/{u}3"),
        call("DELETE", f"/api/permissions/{v}/{u}"),
        call("DELETE", f"/api/permissions/{v}/{u}"),
        call("GET", f"/api/users/{u}/permissions"),
        call("GET", f"/api/users/{u}-missing"),
        call("GET", f"/api/users/{u}-missing/permissions"),
        call("GET", f"/api/vhosts/{v}-missing/permissions"),
        call("POST", "/api/users/bulk-delete", {"users": [f"{u}3", f"{u}-missing", f"{u}4"]}),
        call("GET", f"/api/users/{u}3"),
        call("GET", f"/api/users/{u}4"),
        call("POST", "/api/users/bulk-delete", {}),
        call("DELETE", f"/api/users/{u}"),
        call("DELETE", f"/api/users/{u}"),
        call("GET", f"/api/aliveness-test/{v}"),
        call("DELETE", f"/api/vhosts/{v}"),
        call("DELETE", f"/api/vhosts/{v}"),
        call("GET", f"/api/vhosts/{v}"),
        call("GET", f"/api/aliveness-test/{v}"),
        call("GET", "/api/aliveness-test/%2F"),
        call("GET", "/api/health/checks/alarms"),
        call("GET", "/api/health/checks/virtual-hosts"),
        call("GET", "/api/health/checks/node-is-quorum-critical"),
        call("GET", "/api/health/checks/port-listener/not-a-port"),
    ]


def test_users_permissions_and_vhosts_answer_as_rabbitmq(rabbitmq_http: Http,
                                                         names: dict[str, str]) -> None:
    expected = _scenario(rabbitmq_http, names["u"], names["v"])
    with ManagementServer(Broker(), port=0) as server:
        got = _scenario(Http(server.url), names["u"], names["v"])
    differences = [(e[0], e[1], e[2], g[2]) for e, g in zip(expected, got, strict=True)
                   if e != g]
    assert differences == [], "\n".join(
        f"{method} {path}:\n  RabbitMQ: {want}\n  msgbus:   {have}"
        for method, path, want, have in differences)


def _vhost_deleted_under_a_client(http: Http, amqp_url: str, vhost: str) -> tuple[int, str]:
    """A pika client connected to a vhost made over the API, then the vhost deleted: the
    code and text the client is closed with."""
    assert http("PUT", f"/api/vhosts/{vhost}", {}).status == 201
    base = amqp_url.rsplit("/", 1)[0]
    connection = pika.BlockingConnection(pika.URLParameters(f"{base}/{vhost}"))
    try:
        connection.channel().queue_declare("", exclusive=True)
        assert http("DELETE", f"/api/vhosts/{vhost}").status == 204
        with pytest.raises(pika.exceptions.ConnectionClosedByBroker) as closed:
            connection.process_data_events(time_limit=10)
            connection.sleep(10)
        return closed.value.reply_code, closed.value.reply_text
    finally:
        if connection.is_open:
            connection.close()


def test_deleting_a_vhost_closes_its_connections(rabbitmq_http: Http, amqp_url: str,
                                                 names: dict[str, str]) -> None:
    expected = _vhost_deleted_under_a_client(rabbitmq_http, amqp_url, names["v"])
    broker = Broker()
    with AmqpServer(broker, port=0) as amqp, \
            ManagementServer(broker, port=0, amqp=amqp) as server:
        got = _vhost_deleted_under_a_client(Http(server.url), amqp.url, names["v"])
    # RabbitMQ says "is down" or "is deleted", whichever of its two closers comes first
    texts = {f"CONNECTION_FORCED - vhost '{names['v']}' is {how}" for how in ("down", "deleted")}
    assert expected[0] == got[0] == 320
    assert {expected[1], got[1]} <= texts


def _exported(client: Http, u: str, v: str) -> tuple[list[Any], list[Any], list[bool]]:
    """A user made with a password, its vhost and permissions as the definitions export
    them; whether each exported hash is the password's (salted SHA-256, as RabbitMQ's)."""
    assert client("PUT", f"/api/users/{u}", {"password": "p", "tags": "monitoring"}).status \
        == 201
    assert client("PUT", f"/api/vhosts/{v}", {}).status == 201
    assert client("PUT", f"/api/permissions/{v}/{u}", {**PERMIT, "read": "^r"}).status == 201
    exported = client("GET", "/api/definitions").json()
    users = [dict(user) for user in exported["users"] if user["name"] == u]
    verified = []
    for user in users:
        raw = base64.b64decode(user.pop("password_hash"))
        verified.append(hashlib.sha256(raw[:4] + b"p").digest() == raw[4:])
    permissions = sorted((p for p in exported["permissions"] if p["vhost"] == v),
                         key=lambda p: str(p["user"]))
    return users, permissions, verified


def test_definitions_export_users_and_permissions_as_rabbitmq(rabbitmq_http: Http,
                                                              names: dict[str, str]) -> None:
    expected = _exported(rabbitmq_http, names["u"], names["v"])
    with ManagementServer(Broker(), port=0) as server:
        got = _exported(Http(server.url), names["u"], names["v"])
    assert got == expected
    assert expected[2] == [True]


def test_the_legacy_node_health_check_is_ok() -> None:
    """``/api/healthchecks/node`` (amqpstorm's ``healthchecks.get``): RabbitMQ answers
    ``{"status": "ok"}`` when its checks pass within the request's time, 500 when they run
    longer (a busy shared node can take more than cowboy's 15 s): not compared."""
    with ManagementServer(Broker(), port=0) as server:
        client = Http(server.url)
        assert client("GET", "/api/healthchecks/node").json() == {"status": "ok"}
        node = client("GET", "/api/overview").json()["node"]
        assert client("GET", f"/api/healthchecks/node/{node}").json() == {"status": "ok"}
        assert client("GET", "/api/healthchecks/node/nobody@nowhere").status == 404
