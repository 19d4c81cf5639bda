"""What the management API answers users who are not administrators, and users without
permissions in a vhost, on RabbitMQ 3.10 and on ``ManagementServer`` alike: users,
permissions, vhosts and definitions are for administrators only ("Not administrator
user"), nodes for monitoring users ("Not monitor user"), a vhost's objects for users with
permissions in it or administrators ("User not authorised to access virtual host", before
a missing object's 404), and the lists show a user only the vhosts it may see."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from contrib.management import ManagementServer
from tests.contrib.management.conftest import Http, Reply
from transports.memory import Broker

pytestmark = pytest.mark.rabbitmq

PERMIT = {"configure": ".*", "write": ".*", "read": ".*"}
TAGS = ("management", "monitoring", "policymaker", "administrator")


def _answer(reply: Reply) -> Any:
    """The status and, for a refusal, its body; for a list, the names it shows."""
    if reply.status >= 300 or not reply.body:
        return reply.status, reply.json() if reply.body else None
    data = reply.json()
    if isinstance(data, list):
        return reply.status, sorted(str(item.get("name")) for item in data
                                    if isinstance(item, dict))
    return reply.status


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:10]


def _scenario(http: Http, t: str) -> list[Any]:
    v, q = f"msgbus-restricted-{t}", f"q-{t}"
    users = {kind: f"msgbus-restricted-{kind}-{t}" for kind in TAGS}
    paths = [
        ("GET", "/api/users", None), ("GET", f"/api/users/{users['management']}", None),
        ("PUT", f"/api/users/x-{t}", {"password": "x", "tags": ""}),
        ("DELETE", f"/api/users/x-{t}", None),
        ("POST", "/api/users/bulk-delete", {"users": []}),
        ("GET", "/api/users/without-permissions", None), ("GET", "/api/permissions", None),
        ("GET", "/api/permissions/%2F/guest", None),
        ("PUT", f"/api/permissions/{v}/guest", {"configure": "", "write": "", "read": ""}),
        ("DELETE", f"/api/permissions/{v}/guest", None),
        ("GET", "/api/vhosts/%2F/permissions", None),
        ("PUT", f"/api/vhosts/y-{t}", {}), ("DELETE", f"/api/vhosts/y-{t}", None),
        ("GET", "/api/vhosts/%2F", None), ("GET", f"/api/vhosts/{v}", None),
        ("GET", "/api/definitions", None), ("POST", "/api/definitions", {}),
        ("GET", "/api/nodes", None), ("GET", "/api/overview", None),
        ("GET", "/api/queues/%2F", None), ("GET", f"/api/queues/{v}", None),
        ("GET", f"/api/queues/{v}/{q}", None), ("GET", f"/api/queues/{v}/missing", None),
        ("GET", f"/api/queues/{v}/{q}/bindings", None), ("GET", f"/api/exchanges/{v}", None),
        ("GET", f"/api/exchanges/{v}/amq.direct", None),
        ("GET", f"/api/exchanges/{v}/missing", None),
        ("GET", f"/api/exchanges/{v}/amq.direct/bindings/source", None),
        ("GET", f"/api/bindings/{v}", None), ("GET", f"/api/bindings/{v}/e/amq.direct/q/{q}", None),
        ("GET", f"/api/consumers/{v}", None), ("GET", f"/api/aliveness-test/{v}", None),
        ("GET", f"/api/queues/missing-{t}/x", None),
        ("GET", "/api/vhosts", None), ("GET", "/api/queues", None),
    ]
    observed: list[Any] = []
    try:
        assert http("PUT", f"/api/vhosts/{v}", {}).status == 201  # guest's, theirs alone
        assert http("PUT", f"/api/queues/{v}/{q}", {}).status == 201
        for kind, name in users.items():
            assert http("PUT", f"/api/users/{name}", {"password": "p", "tags": kind}).status \
                == 201
            if kind != "administrator":
                assert http("PUT", f"/api/permissions/%2F/{name}", PERMIT).status == 201
        for kind, name in users.items():
            for method, path, body in paths:
                reply = http(method, path, body, auth=(name, "p"))
                observed.append((kind, method, path, _answer(reply)))
    finally:
        for name in users.values():
            http("DELETE", f"/api/users/{name}")
        for vhost in (v, f"y-{t}"):
            http("DELETE", f"/api/vhosts/{vhost}")
        http("DELETE", f"/api/users/x-{t}")
    return observed


def _mine(observed: list[Any], t: str) -> list[Any]:
    """Only this test's objects in the lists (RabbitMQ's node holds others' too)."""
    result = []
    for kind, method, path, answer in observed:
        if isinstance(answer, tuple) and isinstance(answer[1], list) and method == "GET" \
                and all(isinstance(name, str) for name in answer[1]):
            answer = (answer[0], [name for name in answer[1] if t in name or name == "/"])
        result.append((kind, method, path, answer))
    return result


def test_restricted_users_are_answered_as_rabbitmq(rabbitmq_http: Http, tag: str) -> None:
    expected = _mine(_scenario(rabbitmq_http, tag), tag)
    with ManagementServer(Broker(), port=0) as server:
        got = _mine(_scenario(Http(server.url), tag), tag)
    differences = [(e, g) for e, g in zip(expected, got, strict=True) if e != g]
    assert differences == [], "\n".join(f"RabbitMQ: {e}\nmsgbus:   {g}"
                                        for e, g in differences)
    assert ("management", "PUT", f"/api/users/x-{tag}",
            (401, {"error": "not_authorised", "reason": "Not administrator user"})) in got
