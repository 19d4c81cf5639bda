"""The same management API requests sent to RabbitMQ 3.10 (with its management plugin) and
to ``ManagementServer``: the status codes, the error bodies and the bodies of plain
objects must be equal; for objects full of RabbitMQ's internals (queues, exchanges, the
overview) the field names must be, apart from the internals listed here."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from contrib.management import ManagementServer
from tests.contrib.management.conftest import Http, Reply
from tests.support import Names
from transports.memory import Broker

pytestmark = pytest.mark.rabbitmq

#: Fields only an Erlang node has (memory, garbage collection, paging, the node's build).
INTERNALS = {
    "backing_queue_status", "garbage_collection", "memory", "reductions",
    "reductions_details", "message_bytes", "message_bytes_paged_out",
    "message_bytes_persistent", "message_bytes_ram", "message_bytes_ready",
    "message_bytes_unacknowledged", "messages_paged_out", "messages_persistent",
    "messages_ram", "messages_ready_ram", "messages_unacknowledged_ram", "idle_since",
    "sample_retention_policies", "erlang_full_version", "release_series_support_status",
    "churn_rates", "slave_nodes", "synchronised_slave_nodes", "effective_policy_definition",
    "pending_raft_commands", "user_who_performed_action", "messages_details",
    "messages_ready_details", "messages_unacknowledged_details", "message_stats",
    "storage_version", "mirror_nodes", "cluster_state",
    # a vhost's traffic, shown once its statistics were first emitted
    "recv_oct", "recv_oct_details", "send_oct", "send_oct_details",
}


class Step:
    """One request; ``how`` says what is compared: ``status``, ``body`` or ``fields``."""

    def __init__(self, how: str, method: str, path: str, body: Any = None, *,
                 auth: tuple[str, str] | None = None, send_auth: bool = True,
                 header: str | None = None) -> None:
        self.how, self.method, self.path, self.body = how, method, path, body
        self.auth, self.send_auth, self.header = auth, send_auth, header

    def run(self, client: Http, names: dict[str, str]) -> Any:
        path = self.path.format(**{k: quote(v, safe="") for k, v in names.items()})
        reply = client(self.method, path, self.body, auth=self.auth, send_auth=self.send_auth)
        return self.compared(reply)

    def compared(self, reply: Reply) -> Any:
        header = reply.headers.get(self.header) if self.header else None
        if self.how == "status" or not reply.body:
            return reply.status, header, reply.body
        data = reply.json()
        if self.how == "fields":
            data = sorted(set(data) - INTERNALS)
        return reply.status, header, data


def scenario(q: str, x: str) -> list[Step]:
    payload = base64.b64encode(b"\x00\xffbinary").decode()
    publish = {"routing_key": "a.b", "payload": "hello", "payload_encoding": "string",
               "properties": {}}
    return [
        Step("status", "PUT", "/api/queues/%2F/{q}", {"durable": False,
                                                       "arguments": {"x-max-length": 10}}),
        Step("status", "PUT", "/api/queues/%2F/{q}", {"durable": "false",
                                                       "arguments": {"x-max-length": 10}}),
        Step("body", "PUT", "/api/queues/%2F/{q}", {"durable": True,
                                                     "arguments": {"x-max-length": 10}}),
        Step("body", "PUT", "/api/queues/%2F/{q}", b"{bad"),
        Step("body", "PUT", "/api/queues/%2F/{q}", b"[1]"),
        Step("body", "PUT", "/api/queues/%2F/{q}", {"durable": "yes"}),
        Step("body", "PUT", "/api/queues/no-such-vhost/{q}", {}),
        Step("status", "PUT", "/api/exchanges/%2F/{x}", {"type": "topic"}),
        Step("status", "PUT", "/api/exchanges/%2F/{x}", {"type": "topic"}),
        # a name that is no Erlang atom (RabbitMQ says "invalid" for an existing atom)
        Step("body", "PUT", "/api/exchanges/%2F/{x}-bogus", {"type": "msgbus-no-such-type"}),
        Step("body", "PUT", "/api/exchanges/no-such-vhost/{x}", {"type": "topic"}),
        Step("body", "PUT", "/api/exchanges/%2F/amq.{x}", {"type": "direct"}),
        Step("status", "POST", "/api/bindings/%2F/e/{x}/q/{q}", {"routing_key": "a.*"},
             header="location"),
        Step("status", "POST", "/api/bindings/%2F/e/{x}/q/{q}", {"routing_key": "a.* b~#"},
             header="location"),
        Step("body", "POST", "/api/bindings/%2F/e/{x}/q/{q}-nope", {"routing_key": "a"}),
        Step("body", "POST", "/api/bindings/%2F/e/{x}-nope/q/{q}", {"routing_key": "a"}),
        Step("body", "POST", "/api/bindings/%2F/e/{x}/e/{x}-nope", {"routing_key": "a"}),
        Step("body", "POST", "/api/bindings/no-such-vhost/e/{x}/q/{q}", {"routing_key": "a"}),
        Step("body", "GET", "/api/bindings/%2F/e/{x}/q/{q}"),
        Step("body", "GET", "/api/queues/%2F/{q}/bindings"),
        Step("body", "GET", "/api/exchanges/%2F/{x}/bindings/source"),
        Step("body", "GET", "/api/bindings/%2F/e/{x}/q/{q}/a.%252A"),
        Step("body", "POST", "/api/exchanges/%2F/{x}/publish", publish),
        Step("body", "POST", "/api/exchanges/%2F/{x}/publish", dict(publish, routing_key="z")),
        Step("body", "POST", "/api/exchanges/%2F/amq.default/publish", {
            "routing_key": "{q}".replace("{q}", q), "payload": payload,
            "payload_encoding": "base64",
            "properties": {"delivery_mode": 2, "headers": {"n": 1, "s": "t"},
                           "content_type": "application/octet-stream",
                           "correlation_id": "c1", "priority": 3}}),
        Step("body", "POST", "/api/exchanges/%2F/{x}/publish",
             {"routing_key": "a.b", "payload": "x", "payload_encoding": "string"}),
        Step("body", "POST", "/api/exchanges/%2F/{x}/publish",
             dict(publish, payload_encoding="bogus")),
        Step("body", "POST", "/api/exchanges/%2F/{x}-nope/publish", publish),
        Step("body", "POST", "/api/queues/%2F/{q}/get",
             {"count": 5, "ackmode": "ack_requeue_true", "encoding": "auto", "truncate": 50000}),
        Step("body", "POST", "/api/queues/%2F/{q}/get",
             {"count": "1", "ackmode": "ack_requeue_false", "encoding": "base64"}),
        Step("body", "POST", "/api/queues/%2F/{q}/get", {"count": 1}),
        Step("body", "POST", "/api/queues/%2F/{q}-nope/get",
             {"count": 1, "ackmode": "ack_requeue_true", "encoding": "auto"}),
        Step("fields", "GET", "/api/queues/%2F/{q}"),
        Step("fields", "GET", "/api/exchanges/%2F/{x}"),
        Step("fields", "GET", "/api/exchanges/%2F/amq.default"),
        Step("fields", "GET", "/api/overview"),
        Step("fields", "GET", "/api/vhosts/%2F"),
        Step("body", "GET", "/api/whoami"),
        Step("fields", "GET", "/api/definitions"),
        Step("body", "GET", "/api/queues/%2F/{q}-nope"),
        Step("body", "GET", "/api/queues/no-such-vhost"),
        Step("body", "GET", "/api/exchanges/%2F/{x}-nope"),
        Step("body", "GET", "/api/queues", auth=("guest", "wrong")),
        Step("status", "GET", "/api/queues", send_auth=False, header="www-authenticate"),
        Step("status", "DELETE", "/api/bindings/%2F/e/{x}/q/{q}/a.%252A"),
        Step("body", "DELETE", "/api/bindings/%2F/e/{x}/q/{q}/a.%252A"),
        Step("status", "DELETE", "/api/queues/%2F/{q}/contents"),
        Step("body", "DELETE", "/api/queues/%2F/{q}-nope/contents"),
        Step("status", "POST", "/api/definitions", {"queues": [
            {"name": q + "-defined", "vhost": "/", "durable": True, "auto_delete": False,
             "arguments": {}}]}),
        Step("status", "DELETE", "/api/queues/%2F/{q}-defined"),
        Step("status", "DELETE", "/api/queues/%2F/{q}"),
        Step("body", "DELETE", "/api/queues/%2F/{q}"),
        Step("status", "DELETE", "/api/exchanges/%2F/{x}"),
        Step("body", "DELETE", "/api/exchanges/%2F/{x}"),
    ]


def wait_for_stats(client: Http, path: str) -> None:
    """RabbitMQ shows a queue's counts once its statistics were first emitted (every 5 s)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        reply = client("GET", path)
        # the queue's process and its message counts are reported separately
        if reply.status == 200 and {"state", "messages"} <= set(reply.json()):
            return
        time.sleep(0.25)
    pytest.fail(f"RabbitMQ showed no statistics for {path} within 30 s")


def run(client: Http, names: dict[str, str], before: Callable[[Step], None]) -> list[Any]:
    results = []
    for step in scenario(names["q"], names["x"]):
        before(step)
        results.append((step.method, step.path, step.run(client, names)))
    return results


def test_the_same_requests_get_the_same_answers(rabbitmq_http: Http, names: Names) -> None:
    q, x = names.queue("mgmt"), names.exchange("mgmt")
    names.queues.extend([q + "-defined"])
    wanted = {"q": q, "x": x}

    def settle_rabbitmq(step: Step) -> None:
        if step.how == "fields" and step.path.startswith("/api/queues/"):
            wait_for_stats(rabbitmq_http, f"/api/queues/%2F/{quote(q, safe='')}")

    expected = run(rabbitmq_http, wanted, settle_rabbitmq)
    with ManagementServer(Broker(), port=0) as server:
        got = run(Http(server.url), wanted, lambda step: None)
    differences = [(e[0], e[1], e[2], g[2]) for e, g in zip(expected, got, strict=True)
                   if e != g]
    assert differences == [], "\n".join(
        f"{method} {path}:\n  RabbitMQ: {want}\n  msgbus:   {have}"
        for method, path, want, have in differences)


def _client_views(client: Http, connection_name: str, wait: bool) -> dict[str, Any]:
    """The fields of the connection, channel and consumer of the pika client called
    ``connection_name`` (on RabbitMQ, once their statistics were emitted)."""
    deadline = time.monotonic() + 30
    while True:
        connections = [c for c in client("GET", "/api/connections").json()
                       if c.get("user_provided_name") == connection_name]
        # RabbitMQ writes details it does not know yet as [] (other clients of a shared node)
        channels = [c for c in client("GET", "/api/channels").json()
                    if connections and isinstance(c["connection_details"], dict)
                    and c["connection_details"]["name"] == connections[0]["name"]]
        consumers = [c for c in client("GET", "/api/consumers").json()
                     if connections and isinstance(c["channel_details"], dict)
                     and c["channel_details"]["connection_name"] == connections[0]["name"]]
        ready = connections and "recv_cnt" in connections[0] and channels \
            and channels[0].get("consumer_count") == 1 and consumers
        if ready or not wait:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"RabbitMQ showed no statistics for {connection_name} within 30 s")
        time.sleep(0.25)
    return {
        "connection": sorted(set(connections[0]) - INTERNALS),
        "client_properties": sorted(connections[0]["client_properties"]),
        "channel": sorted(set(channels[0]) - INTERNALS),
        "consumer": sorted(set(consumers[0]) - INTERNALS),
        "consumer values": {k: consumers[0][k] for k in ("ack_required", "prefetch_count",
                                                          "exclusive", "arguments")},
        "channel values": {k: channels[0][k] for k in ("number", "prefetch_count",
                                                        "consumer_count", "confirm")},
    }


def _with_client(url: str, name: str, queue: str, look: Callable[[], dict[str, Any]]
                 ) -> dict[str, Any]:
    import pika

    parameters = pika.URLParameters(url)
    parameters.client_properties = {"connection_name": name}
    connection = pika.BlockingConnection(parameters)
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.queue_declare(queue, auto_delete=True)
        channel.basic_qos(prefetch_count=7)
        channel.basic_consume(queue, lambda *args: None)
        return look()
    finally:
        connection.close()


def test_a_network_clients_connection_channel_and_consumer_look_the_same(
        rabbitmq_http: Http, amqp_url: str, names: Names) -> None:
    from contrib.amqp_server import AmqpServer

    queue = names.queue("consumed")
    expected = _with_client(amqp_url, queue, queue,
                            lambda: _client_views(rabbitmq_http, queue, wait=True))
    broker = Broker()
    with AmqpServer(broker, port=0) as amqp, \
            ManagementServer(broker, port=0, amqp=amqp) as server:
        got = _with_client(amqp.url, queue, queue,
                           lambda: _client_views(Http(server.url), queue, wait=False))
    assert got == expected
