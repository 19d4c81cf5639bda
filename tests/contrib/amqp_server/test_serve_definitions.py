"""``msgbus serve --definitions FILE`` and ``load_definitions``: a definitions file loaded at
start, as RabbitMQ loads ``load_definitions = FILE`` at boot.

The differential test boots a throwaway RabbitMQ node of its own with the same file in its
rabbitmq.conf (as ``scripts/test`` starts its node) and compares, on both, the users (with
their password hashes), vhosts, permissions, exchanges, queues and bindings, and what
logins over AMQP do.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pika
import pika.exceptions
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contrib.amqp_server import AmqpServer
from contrib.definitions import DefinitionsError, export_definitions, load_definitions
from msgbus.errors import ValidationError
from tests.contrib.amqp_server.test_serve import Serving, serve  # noqa: F401  (fixture)
from tests.support import RABBITMQ_SERVER, RABBITMQCTL, free_port, throwaway_node
from transports.memory import Broker

REQUIRE_RABBITMQ = os.environ.get("MSGBUS_REQUIRE_RABBITMQ") == "1"



def _hash(password: str, algorithm: str, salt: bytes) -> str:
    digest = hashlib.new(algorithm, salt + password.encode()).digest()
    return base64.b64encode(salt + digest).decode()


DEFINITIONS: dict[str, Any] = {
    "users": [
        {"name": "alice", "password_hash": _hash("alice-secret", "sha256", b"\x01\x02\x03\x04"),
         "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ["administrator"],
         "limits": {}},
        {"name": "bob", "password_hash": _hash("bob-secret", "sha512", b"salt"),
         "hashing_algorithm": "rabbit_password_hashing_sha512", "tags": "", "limits": {}},
    ],
    "vhosts": [{"name": "shop"}, {"name": "audit"}],
    "permissions": [
        {"user": "alice", "vhost": "shop", "configure": ".*", "write": ".*", "read": ".*"},
        {"user": "bob", "vhost": "shop", "configure": "^$", "write": "^orders$",
         "read": "^billing$"},
    ],
    "exchanges": [
        {"name": "orders", "vhost": "shop", "type": "topic", "durable": True,
         "auto_delete": False, "internal": False, "arguments": {}},
        {"name": "failed", "vhost": "shop", "type": "fanout", "durable": True,
         "auto_delete": False, "internal": False, "arguments": {}},
    ],
    "queues": [
        {"name": "billing", "vhost": "shop", "durable": True, "auto_delete": False,
         "arguments": {"x-max-length": 10, "x-dead-letter-exchange": "failed"}},
        {"name": "dead", "vhost": "shop", "durable": True, "auto_delete": False,
         "arguments": {}},
    ],
    "bindings": [
        {"source": "orders", "vhost": "shop", "destination": "billing",
         "destination_type": "queue", "routing_key": "order.#", "arguments": {}},
        {"source": "orders", "vhost": "shop", "destination": "failed",
         "destination_type": "exchange", "routing_key": "*.failed", "arguments": {}},
        {"source": "failed", "vhost": "shop", "destination": "dead",
         "destination_type": "queue", "routing_key": "", "arguments": {}},
    ],
}
LATER: dict[str, Any] = {
    "users": [{"name": "carol", "password_hash": _hash("carol-secret", "sha256", b"abcd"),
               "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []}],
    "vhosts": [{"name": "extra"}],
    "permissions": [{"user": "carol", "vhost": "extra", "configure": "", "write": ".*",
                     "read": ".*"}],
    "queues": [{"name": "jobs", "vhost": "extra", "durable": True, "auto_delete": False,
                "arguments": {"x-queue-mode": "lazy"}}],
    "exchanges": [], "bindings": [],
}
#: (user, password, vhost) logins tried on both servers
LOGINS = [("alice", "alice-secret", "shop"), ("bob", "bob-secret", "shop"),
          ("alice", "wrong", "shop"), ("guest", "guest", "/"), ("alice", "alice-secret", "/"),
          ("bob", "bob-secret", "audit")]


def _topology(definitions: Mapping[str, Any]) -> dict[str, set[tuple[Any, ...]]]:
    """What a definitions export holds, in a form that compares across servers."""
    def args(entry: Mapping[str, Any]) -> str:
        return json.dumps(entry.get("arguments") or {}, sort_keys=True)
    return {
        "users": {(u["name"], u["password_hash"], u["hashing_algorithm"],
                   tuple(sorted(u["tags"]))) for u in definitions["users"]},
        "vhosts": {v["name"] for v in definitions["vhosts"]},
        "permissions": {(p["user"], p["vhost"], p["configure"], p["write"], p["read"])
                        for p in definitions["permissions"]},
        "exchanges": {(x["vhost"], x["name"], x["type"], x["durable"], x["auto_delete"],
                       x.get("internal", False), args(x)) for x in definitions["exchanges"]},
        "queues": {(q["vhost"], q["name"], q["durable"], q["auto_delete"], args(q))
                   for q in definitions["queues"]},
        "bindings": {(b["vhost"], b["source"], b["destination"], b["destination_type"],
                      b["routing_key"], args(b)) for b in definitions["bindings"]},
    }


def _embedded_topology(broker: Broker) -> dict[str, set[tuple[Any, ...]]]:
    """What the broker's export holds (``GET /api/definitions`` answers the same)."""
    return _topology(json.loads(json.dumps(export_definitions(broker))))


def _login(port: int, user: str, password: str, vhost: str) -> str:
    """What a pika login does: ``ok`` and where a message published as that user to
    ``orders`` with key ``order.failed`` went, or the refusal's kind."""
    parameters = pika.ConnectionParameters("127.0.0.1", port, vhost,
                                           pika.PlainCredentials(user, password),
                                           connection_attempts=1)
    try:
        connection = pika.BlockingConnection(parameters)
    except pika.exceptions.ProbableAuthenticationError:
        return "authentication refused"
    except pika.exceptions.ProbableAccessDeniedError:
        return "vhost access refused"
    try:
        if vhost != "shop":
            return "ok"
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish("orders", "order.failed", b"lost parcel")
        counts = []
        for queue in ("billing", "dead"):
            try:
                counts.append(connection.channel().queue_declare(
                    queue, passive=True).method.message_count)
            except pika.exceptions.ChannelClosedByBroker as error:
                counts.append(error.reply_code)
        return f"ok: {counts}"
    finally:
        if connection.is_open:
            connection.close()


def _write(path: Path, definitions: Mapping[str, Any]) -> Path:
    path.write_text(json.dumps(definitions), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def booted_node(tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[tuple[int, str, dict[str, str]]]:
    """A throwaway RabbitMQ node booted with ``load_definitions`` = DEFINITIONS: (AMQP port,
    node name, its environment for rabbitmqctl)."""
    if not os.access(RABBITMQ_SERVER, os.X_OK):
        reason = "NO RABBITMQ NODE: rabbitmq-server is not installed (scripts/test installs it)"
        if REQUIRE_RABBITMQ:
            pytest.fail(f"MSGBUS_REQUIRE_RABBITMQ=1: {reason}")
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("definitions-node")
    definitions = _write(base / "definitions.json", DEFINITIONS)
    port = free_port()
    with throwaway_node(base, f"listeners.tcp.default = 127.0.0.1:{port}\n"
                              f"load_definitions = {definitions}\n", "definitions") as (node, env):
        yield port, node, env


@pytest.mark.rabbitmq
def test_serve_definitions_ends_as_rabbitmq_booted_with_them(
        booted_node: tuple[int, str, dict[str, str]], serve: type[Serving],  # noqa: F811
        tmp_path: Path) -> None:
    port, node, env = booted_node
    exported = subprocess.run([RABBITMQCTL, "-n", node, "export_definitions", "-"], env=env,
                              check=True, capture_output=True, text=True, timeout=60).stdout
    rabbitmq = _topology(json.loads(exported[exported.index("{"):]))
    broker = Broker()
    load_definitions(broker, _write(tmp_path / "definitions.json", DEFINITIONS), boot=True)
    assert _embedded_topology(broker) == rabbitmq
    assert "guest" not in {u[0] for u in rabbitmq["users"]} and "/" not in rabbitmq["vhosts"]

    serving = serve("--port", "0", "--definitions", str(tmp_path / "definitions.json"))
    served_port = int(serving.url.rsplit(":", 1)[1].split("/")[0])
    on_rabbitmq = [_login(port, *login) for login in LOGINS]
    assert on_rabbitmq[0] == "ok: [1, 1]"  # the file's bindings route, on RabbitMQ
    assert [_login(served_port, *login) for login in LOGINS] == on_rabbitmq

    # later, a file imported into the running node: a new vhost grants nobody
    later = _write(tmp_path / "later.json", LATER)
    subprocess.run([RABBITMQCTL, "-n", node, "import_definitions", str(later)], env=env, check=True,
                   capture_output=True, timeout=60)
    exported = subprocess.run([RABBITMQCTL, "-n", node, "export_definitions", "-"], env=env,
                              check=True, capture_output=True, text=True, timeout=60).stdout
    load_definitions(broker, later)
    assert _embedded_topology(broker) == _topology(json.loads(exported[exported.index("{"):]))


def test_load_definitions_into_a_test_broker_keeps_its_guest() -> None:
    """The fixture route: ``load_definitions(msgbus_broker, path_or_mapping)`` imports as
    ``rabbitmqctl import_definitions`` does, into a broker that keeps its defaults."""
    broker = Broker()
    load_definitions(broker, DEFINITIONS)
    assert sorted(broker.users()) == ["alice", "bob", "guest"]
    assert "billing" in {q.name for q in broker.queues("shop")}
    with AmqpServer(broker, port=0) as server:
        assert _login(server.port, "bob", "bob-secret", "shop") == "ok: [1, 1]"
        assert _login(server.port, "guest", "guest", "/") == "ok"
        assert _login(server.port, "guest", "guest", "shop") == "vhost access refused"


BAD_FILES = [
    ('{"users": [', "not JSON: "),
    ("[]", "must hold a JSON object, got list"),
    (json.dumps({**DEFINITIONS, "permissions": [
        {"user": "carol", "vhost": "shop", "configure": "", "write": "", "read": ""}]}),
     "permissions[0] (user 'carol', vhost 'shop'): no_such_user 'carol'"),
    (json.dumps({**DEFINITIONS, "queues": [*DEFINITIONS["queues"], {
        "name": "jobs", "vhost": "nowhere", "durable": True}]}),
     "queues[2] 'jobs' in vhost 'nowhere': vhost_not_found: nowhere"),
    (json.dumps({**DEFINITIONS, "bindings": [{
        "source": "orders", "vhost": "shop", "destination": "nothing",
        "destination_type": "queue", "routing_key": "", "arguments": {}}]}),
     "bindings[0] ('orders' -> 'nothing' in vhost 'shop'): no queue 'nothing' in vhost 'shop' "
     "for a binding"),
    (json.dumps({"queues": [{"name": "q", "vhost": "/", "durable": True}]}),
     "queues[0] 'q' in vhost '/': vhost_not_found: /"),  # no / vhost unless the file has it
    (json.dumps({**DEFINITIONS, "queues": [{"name": "q", "vhost": "shop", "durable": "yes"}]}),
     "queues[0] 'q' in vhost 'shop': not_boolean 'yes'"),
    (json.dumps({**DEFINITIONS, "bindings": [], "queues": [
        {"name": "q", "vhost": "shop", "arguments": {"x-max-length": "ten"}}]}),
     "queues[0] 'q' in vhost 'shop': PRECONDITION_FAILED - invalid arg 'x-max-length'"),
]


@pytest.mark.parametrize(("content", "expected"), BAD_FILES)
def test_serve_refuses_a_bad_file_in_one_line_and_serves_nothing(
        serve: type[Serving], tmp_path: Path, content: str, expected: str) -> None:  # noqa: F811
    path = tmp_path / "definitions.json"
    path.write_text(content, encoding="utf-8")
    serving = serve("--port", "0", "--definitions", str(path))
    out, err = serving.process.communicate(timeout=30)
    assert (serving.process.returncode, serving.first_line + out) == (2, "")
    assert err.endswith("\n") and err.count("\n") == 1  # one line
    assert err.startswith(f"msgbus serve: {path}: {expected}")


def test_serve_refuses_a_missing_file(serve: type[Serving], tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "missing.json"
    serving = serve("--port", "0", "--definitions", str(path))
    out, err = serving.process.communicate(timeout=30)
    assert serving.process.returncode == 2 and serving.first_line + out == ""
    assert err == f"msgbus serve: {path}: cannot read the file: No such file or directory\n"


def test_a_refused_boot_load_leaves_the_broker_as_it_was() -> None:
    broker = Broker()
    bad = {**DEFINITIONS, "permissions": [{"user": "carol", "vhost": "shop", "configure": "",
                                           "write": "", "read": ""}]}
    with pytest.raises(DefinitionsError, match=r"^permissions\[0\] .*no_such_user 'carol'"):
        load_definitions(broker, bad, boot=True)
    assert (broker.users(), broker.vhosts()) == (["guest"], ["/"])
    broker.connect("/", username="guest", password="guest").close()


def test_boot_load_needs_a_fresh_broker() -> None:
    broker = Broker()
    broker.connect_as_system("/").channel().queue_declare("mine")
    with pytest.raises(ValidationError, match="needs a fresh broker"):
        load_definitions(broker, DEFINITIONS, boot=True)
    assert broker.queue("mine", "/") is not None and "alice" not in broker.users()


@settings(max_examples=40, deadline=None)
@given(section=st.sampled_from(["users", "vhosts", "permissions", "exchanges", "queues",
                                "bindings"]),
       value=st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2),
                       st.just({"a": 1})))
def test_a_section_that_is_not_a_list_of_objects_is_refused_naming_it(
        section: str, value: object) -> None:
    broker = Broker()
    if isinstance(value, list) and not value:
        load_definitions(broker, {section: value})  # an empty list defines nothing
        return
    with pytest.raises(DefinitionsError) as refused:
        load_definitions(broker, {section: value}, boot=True)
    assert str(refused.value) == f"{section}: {section} must be a list of JSON objects"
    assert (broker.users(), broker.vhosts()) == (["guest"], ["/"])


def test_the_readme_program_prints_what_it_says() -> None:
    from tests.contrib.test_readme_amqp_server import _run, _snippets

    program = next(code for code in _snippets() if "load_definitions" in code)
    assert _run(program).splitlines() == ["orders 0"]


@pytest.mark.parametrize(("user", "message"), [
    ({"name": "eve", "password": 12345678, "tags": []},
     "users[0] 'eve': password must be a string, got a JSON int"),
    ({"name": "eve", "password_hash": "s3cret!!", "tags": []},
     "users[0] 'eve': not_base64: password_hash is not base64"),
])
def test_a_refused_password_is_not_in_the_message(user: dict[str, Any], message: str) -> None:
    broker = Broker()
    with pytest.raises(DefinitionsError) as refused:
        load_definitions(broker, {"users": [user]})
    assert str(refused.value) == message
    assert "eve" not in broker.users()
