"""Users, vhosts and permissions in ``POST /api/definitions``, on RabbitMQ 3.10 and on the
embedded server alike: users given as RabbitMQ's salted hashes (sha256, sha512, md5) log in
with their passwords over AMQP and over the API, tags come as a string or a list, a new
vhost grants the importing user (and nobody else) every permission before the file's
permissions apply, the topology is imported whatever the importer's permissions, and
refused entries are answered alike. Then a round trip: a user made on RabbitMQ, exported
there, imported into the embedded server, logs in there with pika."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pika
import pika.exceptions
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contrib.amqp_server import AmqpServer
from contrib.management import ManagementServer
from tests.contrib.management.conftest import Http
from transports.memory import Broker
from transports.memory.access import HASHING_ALGORITHMS, password_hash

DIGESTS = {"sha256": hashlib.sha256, "sha512": hashlib.sha512, "md5": hashlib.md5}


def salted(algorithm: str, password: str, salt: bytes = b"\x01\x02\x03\x04") -> str:
    """RabbitMQ's password hash, made here independently of the library."""
    digest = DIGESTS[algorithm](salt + password.encode()).digest()
    return base64.b64encode(salt + digest).decode()


class Server:
    """One server under test: its AMQP address and its management API (as guest)."""

    def __init__(self, amqp_url: str, http: Http) -> None:
        parts = urlsplit(amqp_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 5672
        self.http = http

    def login(self, user: str, password: str, vhost: str) -> Any:
        """What a pika login as ``user`` to ``vhost`` gives: "ok" or the refusal's code."""
        try:
            connection = pika.BlockingConnection(pika.ConnectionParameters(
                self.host, self.port, vhost, pika.PlainCredentials(user, password),
                connection_attempts=1))
        except pika.exceptions.ProbableAuthenticationError:
            return "login refused"
        except pika.exceptions.ProbableAccessDeniedError:
            return "vhost refused"
        connection.close()
        return "ok"


@pytest.fixture
def embedded(msgbus_broker: Broker) -> Iterator[Server]:
    with AmqpServer(msgbus_broker, port=0) as amqp, \
            ManagementServer(msgbus_broker, port=0) as management:
        yield Server(amqp.url, Http(management.url))


def _answer(reply: Any) -> Any:
    return (reply.status, reply.json() if reply.body else None)


def _scenario(server: Server, tag: str) -> list[Any]:
    http = server.http
    u, v, w, admin = f"msgbus-def-{tag}-", f"msgbus-def-v-{tag}", f"msgbus-def-w-{tag}", \
        f"msgbus-def-admin-{tag}"
    observed: list[Any] = []
    try:
        assert http("PUT", f"/api/users/{admin}",
                    {"password": "pa", "tags": "administrator"}).status == 201
        assert http("PUT", f"/api/vhosts/{w}", {}).status == 201  # the importer has none here
        definitions = {
            "users": [
                {"name": f"{u}a", "password_hash": salted("sha256", "pw-a"),
                 "hashing_algorithm": "rabbit_password_hashing_sha256",
                 "tags": "management, monitoring"},
                {"name": f"{u}b", "password_hash": salted("sha512", "pw-b"),
                 "hashing_algorithm": "rabbit_password_hashing_sha512", "tags": ["management"]},
                {"name": f"{u}c", "password_hash": salted("md5", "pw-c"),
                 "hashing_algorithm": "rabbit_password_hashing_md5", "tags": ""},
                {"name": f"{u}d", "password_hash": salted("sha256", "pw-d"), "tags": []},
                {"name": f"{u}e", "password_hash": "", "tags": "management"},
            ],
            "vhosts": [{"name": v}],
            "permissions": [
                {"user": f"{u}a", "vhost": v, "configure": ".*", "write": ".*", "read": ".*"},
                {"user": f"{u}b", "vhost": "/", "configure": "^b", "write": ".*", "read": ".*"},
                {"user": f"{u}c", "vhost": v, "configure": "", "write": "", "read": ""},
                {"user": f"{u}d", "vhost": v, "configure": "", "write": "", "read": ""},
            ],
            "queues": [{"name": "imported", "vhost": w, "durable": True,
                        "auto_delete": False, "arguments": {}}],
        }
        importer = (admin, "pa")
        observed.append(_answer(http("POST", "/api/definitions", definitions, auth=importer)))
        for name in "abcde":
            observed.append(_answer(http("GET", f"/api/users/{u}{name}")))
        for vhost in (v, w):
            reply = http("GET", f"/api/vhosts/{vhost}/permissions")
            observed.append(sorted((p["user"], p["configure"]) for p in reply.json()))
        observed.append(http("GET", f"/api/queues/{w}/imported").status)
        for name, password in (("a", "pw-a"), ("b", "pw-b"), ("b", "pw-a"), ("e", "")):
            observed.append(_answer(http("GET", "/api/whoami", auth=(f"{u}{name}", password))))
        for name, password, vhost in (("a", "pw-a", v), ("a", "pw-a", "/"), ("b", "pw-b", "/"),
                                      ("c", "pw-c", v), ("d", "pw-d", v), ("d", "pw-c", v),
                                      ("e", "", "/")):
            observed.append((name, vhost == v, server.login(f"{u}{name}", password, vhost)))
        # the file's permissions apply after the importer's grant on a new vhost
        again = {"vhosts": [{"name": f"{v}-2"}], "permissions": [
            {"user": admin, "vhost": f"{v}-2", "configure": "^a", "write": "^a", "read": "^a"}]}
        observed.append(_answer(http("POST", "/api/definitions", again, auth=importer)))
        observed.append(_answer(http("GET", f"/api/permissions/{v}-2/{admin}")))
        refused = [
            {"permissions": [{"user": f"{u}-nobody", "vhost": v, "configure": "",
                              "write": "", "read": ""}]},
            {"permissions": [{"user": f"{u}a", "vhost": f"{v}-nowhere", "configure": "",
                              "write": "", "read": ""}]},
            {"users": [{"name": f"{u}f", "password_hash": "!!not base64", "tags": ""}]},
            {"users": [{"name": f"{u}f", "password_hash": salted("sha256", "x")}]},
            {"users": [{"password_hash": salted("sha256", "x"), "tags": ""}]},
        ]
        for body in refused:
            observed.append(_answer(http("POST", "/api/definitions", body)))
        observed.append(http("GET", f"/api/users/{u}f").status)
    finally:
        for name in "abcdef":
            http("DELETE", f"/api/users/{u}{name}")
        http("DELETE", f"/api/users/{admin}")
        for vhost in (v, w, f"{v}-2"):
            http("DELETE", f"/api/vhosts/{vhost}")
    return observed


@pytest.mark.rabbitmq
def test_definitions_import_users_vhosts_and_permissions_as_rabbitmq(
        amqp_url: str, rabbitmq_http: Http, embedded: Server) -> None:
    tag = uuid.uuid4().hex[:10]
    theirs = _scenario(Server(amqp_url, rabbitmq_http), tag)
    ours = _scenario(embedded, tag)
    assert ours == theirs, "the embedded server (left) answers otherwise than RabbitMQ"
    logins = [entry for entry in ours if isinstance(entry, tuple) and len(entry) == 3]
    assert ("b", False, "ok") in logins and ("d", True, "login refused") in logins


@pytest.mark.rabbitmq
def test_a_user_exported_from_rabbitmq_logs_in_to_the_embedded_server(
        rabbitmq_http: Http, embedded: Server) -> None:
    tag = uuid.uuid4().hex[:10]
    user, vhost = f"msgbus-trip-{tag}", f"msgbus-trip-{tag}"
    try:
        assert rabbitmq_http("PUT", f"/api/users/{user}",
                             {"password": "s3cret", "tags": "management"}).status == 201
        assert rabbitmq_http("PUT", f"/api/vhosts/{vhost}", {}).status == 201
        assert rabbitmq_http("PUT", f"/api/permissions/{vhost}/{user}",
                             {"configure": "^q", "write": ".*", "read": ".*"}).status == 201
        exported = rabbitmq_http("GET", "/api/definitions").json()
    finally:
        rabbitmq_http("DELETE", f"/api/users/{user}")
        rabbitmq_http("DELETE", f"/api/vhosts/{vhost}")
    definitions = {
        "users": [u for u in exported["users"] if u["name"] == user],
        "vhosts": [v for v in exported["vhosts"] if v["name"] == vhost],
        "permissions": [p for p in exported["permissions"] if p["vhost"] == vhost],
    }
    assert embedded.http("POST", "/api/definitions", definitions).status == 204
    assert embedded.login(user, "s3cret", vhost) == "ok"
    assert embedded.login(user, "wrong", vhost) == "login refused"
    assert embedded.login(user, "s3cret", "/") == "vhost refused"
    assert embedded.http("GET", "/api/whoami", auth=(user, "s3cret")).json() == {
        "name": user, "tags": ["management"]}
    mine = embedded.http("GET", f"/api/users/{user}").json()
    assert mine["password_hash"] == definitions["users"][0]["password_hash"]


@settings(max_examples=30, deadline=None)
@given(password=st.text(max_size=40), other=st.text(max_size=40),
       algorithm=st.sampled_from(sorted(HASHING_ALGORITHMS)))
def test_a_user_given_a_hash_logs_in_with_its_password_only(password: str, other: str,
                                                            algorithm: str) -> None:
    broker = Broker()
    short = algorithm.rsplit("_", 1)[-1]
    broker.add_user("u", password_hash=salted(short, password, salt=b"salt"),
                    hashing_algorithm=algorithm)
    assert broker.check_password("u", password)
    assert broker.check_password("u", other) == (other == password)
    broker.add_user("v", password_hash=password_hash(password, algorithm))
    assert broker.check_password("v", password) == (algorithm.endswith("sha256"))
    broker.add_user("w", password_hash="")
    assert not broker.check_password("w", password)


def test_a_password_that_is_not_a_string_is_never_echoed(embedded: Server) -> None:
    http = embedded.http
    secret = 918273645546372
    put = http("PUT", "/api/users/echo", {"password": secret, "tags": ""})
    imported = http("POST", "/api/definitions",
                    {"users": [{"name": "echo", "password": secret, "tags": ""}]})
    for reply in (put, imported):
        assert reply.status == 400
        assert str(secret) not in reply.body.decode()
        assert "password must be a string" in reply.json()["reason"]
