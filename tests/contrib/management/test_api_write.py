"""PUT / POST / DELETE endpoints: what they do to the broker, and that a refused request
leaves the broker as it was."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contrib.views import broker_state
from tests.contrib.management.conftest import Http
from transports.memory import Broker, Channel


@pytest.fixture
def channel(msgbus_broker: Broker) -> Channel:
    return msgbus_broker.connect().channel()


def state(broker: Broker) -> str:
    return "\n".join(broker_state(broker, vhost) for vhost in broker.vhosts())


def test_put_queue_creates_then_is_idempotent(http_api: Http, msgbus_broker: Broker) -> None:
    body = {"durable": True, "auto_delete": False, "arguments": {"x-max-length": 5}}
    assert http_api("PUT", "/api/queues/%2F/jobs", body).status == 201
    assert http_api("PUT", "/api/queues/%2F/jobs", body).status == 204
    queue = msgbus_broker.queue("jobs")
    assert queue is not None and queue.durable and queue.arguments == {"x-max-length": 5}
    # rabbitmqadmin sends booleans as strings
    assert http_api("PUT", "/api/queues/%2F/other", {"durable": "true"}).status == 201


def test_put_queue_inequivalent_is_refused_with_rabbitmqs_reason(http_api: Http,
                                                                 channel: Channel) -> None:
    channel.queue_declare("jobs")
    reply = http_api("PUT", "/api/queues/%2F/jobs", {"durable": True})
    assert (reply.status, reply.json()) == (400, {
        "error": "bad_request",
        "reason": "inequivalent arg 'durable' for queue 'jobs' in vhost '/': received 'true' "
                  "but current is 'false'"})


def test_delete_queue(http_api: Http, msgbus_broker: Broker, channel: Channel) -> None:
    channel.queue_declare("jobs")
    assert http_api("DELETE", "/api/queues/%2F/jobs").status == 204
    assert msgbus_broker.queue("jobs") is None
    assert http_api("DELETE", "/api/queues/%2F/jobs").status == 404


def test_purge(http_api: Http, msgbus_broker: Broker, channel: Channel) -> None:
    channel.queue_declare("jobs")
    for n in range(4):
        channel.basic_publish("", "jobs", b"%d" % n)
    assert http_api("DELETE", "/api/queues/%2F/jobs/contents").status == 204
    queue = msgbus_broker.queue("jobs")
    assert queue is not None and queue.messages == 0


def _fill(channel: Channel, count: int) -> None:
    channel.queue_declare("jobs", arguments={"x-dead-letter-exchange": "amq.fanout"})
    channel.queue_declare("dead")
    channel.queue_bind("dead", "amq.fanout")
    for n in range(count):
        channel.basic_publish("", "jobs", f"job {n}".encode())


def get(http_api: Http, count: Any, ackmode: str, encoding: str = "auto") -> Any:
    reply = http_api("POST", "/api/queues/%2F/jobs/get",
                     {"count": count, "ackmode": ackmode, "encoding": encoding})
    assert reply.status == 200, reply.body
    return reply.json()


def test_get_with_requeue_leaves_the_messages_redelivered(
        http_api: Http, msgbus_broker: Broker, channel: Channel) -> None:
    _fill(channel, 3)
    got = get(http_api, 5, "ack_requeue_true")
    assert [(m["payload"], m["message_count"], m["redelivered"]) for m in got] \
        == [("job 0", 2, False), ("job 1", 1, False), ("job 2", 0, False)]
    assert got[0]["properties"] == [] and got[0]["payload_encoding"] == "string"
    again = get(http_api, "2", "ack_requeue_false", "base64")
    assert [(base64.b64decode(m["payload"]), m["redelivered"]) for m in again] \
        == [(b"job 0", True), (b"job 1", True)]
    queue = msgbus_broker.queue("jobs")
    assert queue is not None and queue.messages == 1


def test_get_with_reject_requeue_false_dead_letters(http_api: Http, msgbus_broker: Broker,
                                                    channel: Channel) -> None:
    _fill(channel, 2)
    assert len(get(http_api, 1, "reject_requeue_false")) == 1
    dead = msgbus_broker.queue("dead")
    assert dead is not None and dead.messages == 1
    assert len(get(http_api, 3, "reject_requeue_true")) == 1
    jobs = msgbus_broker.queue("jobs")
    assert jobs is not None and jobs.messages == 1


def test_get_truncates_and_encodes_binary_as_base64(http_api: Http, channel: Channel) -> None:
    channel.queue_declare("jobs")
    channel.basic_publish("", "jobs", b"\xff\x00binary")
    reply = http_api("POST", "/api/queues/%2F/jobs/get",
                     {"count": 1, "ackmode": "ack_requeue_true", "encoding": "auto",
                      "truncate": 2})
    [message] = reply.json()
    assert (message["payload_encoding"], message["payload"], message["payload_bytes"]) \
        == ("base64", base64.b64encode(b"\xff\x00").decode(), 8)


def test_publish_reports_whether_it_was_routed(http_api: Http, msgbus_broker: Broker,
                                               channel: Channel) -> None:
    channel.queue_declare("jobs")
    body = {"routing_key": "jobs", "payload": "aGk=", "payload_encoding": "base64",
            "properties": {"delivery_mode": 2, "headers": {"a": 1}, "content_type": "text/x"}}
    reply = http_api("POST", "/api/exchanges/%2F/amq.default/publish", body)
    assert (reply.status, reply.json()) == (200, {"routed": True})
    delivery = channel.basic_get("jobs", no_ack=True)
    assert delivery is not None and delivery.body == b"hi"
    assert delivery.properties.headers == {"a": 1} and delivery.properties.persistent
    unrouted = dict(body, routing_key="nowhere")
    assert http_api("POST", "/api/exchanges/%2F/amq.direct/publish", unrouted).json() \
        == {"routed": False}


def test_exchanges_and_bindings_round_trip(http_api: Http, msgbus_broker: Broker,
                                           channel: Channel) -> None:
    channel.queue_declare("jobs")
    assert http_api("PUT", "/api/exchanges/%2F/work", {"type": "topic"}).status == 201
    assert http_api("PUT", "/api/exchanges/%2F/work", {"type": "topic"}).status == 204
    made = http_api("POST", "/api/bindings/%2F/e/work/q/jobs",
                    {"routing_key": "job.*", "arguments": {}})
    assert (made.status, made.headers["location"]) == (201, "jobs/job.%252A")
    headers_binding = {"routing_key": "", "arguments": {"x-match": "any", "kind": "pdf"}}
    assert http_api("POST", "/api/bindings/%2F/e/work/e/amq.fanout",
                    headers_binding).status == 201
    assert channel.basic_publish("work", "job.new", b"x").routed == 1
    listed = http_api("GET", "/api/bindings/%2F/e/work/e/amq.fanout").json()
    props = listed[0]["properties_key"]
    assert props.startswith("~")
    assert http_api("DELETE", f"/api/bindings/%2F/e/work/e/amq.fanout/{props}").status == 204
    assert http_api("DELETE", "/api/bindings/%2F/e/work/q/jobs/job.%252A").status == 204
    assert http_api("DELETE", "/api/bindings/%2F/e/work/q/jobs/job.%252A").status == 404
    assert channel.basic_publish("work", "job.new", b"x").routed == 0
    assert http_api("DELETE", "/api/exchanges/%2F/work").status == 204
    assert [x.name for x in msgbus_broker.exchanges() if x.name == "work"] == []


def test_definitions_export_and_import_into_another_broker(
        http_api: Http, msgbus_broker: Broker, channel: Channel) -> None:
    from contrib.management import ManagementServer

    channel.exchange_declare("work", "topic", durable=True)
    channel.queue_declare("jobs", durable=True, arguments={"x-max-length": 3})
    channel.queue_bind("jobs", "work", "job.#")
    exported = http_api("GET", "/api/definitions").json()
    assert [q["name"] for q in exported["queues"]] == ["jobs"]
    assert [x["name"] for x in exported["exchanges"]] == ["work"]
    assert [(b["source"], b["routing_key"]) for b in exported["bindings"]] == [("work", "job.#")]
    assert "guest" not in json.dumps(exported["users"][0]["password_hash"])
    other = Broker()
    with ManagementServer(other, port=0) as server:
        assert Http(server.url)("POST", "/api/definitions", exported).status == 204
    assert [(q.name, q.durable, dict(q.arguments)) for q in other.queues()] \
        == [("jobs", True, {"x-max-length": 3})]
    assert [(b.source, b.destination, b.routing_key) for b in other.bindings() if b.source] \
        == [("work", "jobs", "job.#")]


# -- refusals ---------------------------------------------------------------------------------

REFUSED = [
    ("PUT", "/api/queues/%2F/jobs", b"{bad", 400, {"error": "bad_request", "reason": "not_json"}),
    ("PUT", "/api/queues/%2F/jobs", b"[1]", 400, {"error": "bad_request", "reason": "not_json"}),
    ("PUT", "/api/queues/%2F/jobs", {"durable": "yes"}, 400,
     {"error": "bad_request", "reason": ["not_boolean", "yes"]}),
    ("PUT", "/api/queues/nope/jobs", {}, 404, {"error": "not_found",
                                               "reason": "vhost_not_found"}),
    ("PUT", "/api/exchanges/%2F/work", {"type": "bogus"}, 400,
     {"error": "bad_request", "reason": "unknown exchange type 'bogus'"}),
    ("PUT", "/api/exchanges/%2F/amq.mine", {"type": "direct"}, 401,
     {"error": "not_authorised", "reason": "Access refused."}),
    ("DELETE", "/api/queues/%2F/nope", None, 404, {"error": "Object Not Found",
                                                   "reason": "Not Found"}),
    ("DELETE", "/api/queues/%2F/nope/contents", None, 404, {"error": "Object Not Found",
                                                            "reason": "Not Found"}),
    ("DELETE", "/api/exchanges/%2F/nope", None, 404, {"error": "Object Not Found",
                                                      "reason": "Not Found"}),
    ("POST", "/api/queues/%2F/nope/get", {"count": 1, "ackmode": "ack_requeue_true",
                                          "encoding": "auto"}, 404,
     {"error": "not_found", "reason": "NOT_FOUND - no queue 'nope' in vhost '/'"}),
    ("POST", "/api/queues/%2F/billing/get", {"count": 1}, 400,
     {"error": "bad_request", "reason": "[{key_missing,ackmode},{key_missing,encoding}]"}),
    ("POST", "/api/queues/%2F/billing/get", b"{", 400,
     {"error": "bad_request", "reason": "not_json"}),
    ("POST", "/api/exchanges/%2F/nope/publish", {"routing_key": "k", "payload": "x",
                                                  "payload_encoding": "string",
                                                  "properties": {}}, 400,
     {"error": "bad_request", "reason": "404 NOT_FOUND - no exchange 'nope' in vhost '/'"}),
    ("POST", "/api/exchanges/%2F/amq.default/publish", {"routing_key": "billing",
                                                         "payload": "x",
                                                         "payload_encoding": "string"}, 400,
     {"error": "bad_request", "reason": "[{key_missing,properties}]"}),
    ("POST", "/api/exchanges/%2F/amq.default/publish", {"routing_key": "billing",
                                                         "payload": "x",
                                                         "payload_encoding": "bogus",
                                                         "properties": {}}, 400,
     {"error": "bad_request", "reason": ["unsupported_encoding", "bogus"]}),
    ("POST", "/api/bindings/%2F/e/amq.topic/q/nope", {"routing_key": "a"}, 404,
     {"error": "not_found", "reason": "no queue 'nope' in vhost '/'"}),
    ("POST", "/api/bindings/%2F/e/nope/q/billing", {"routing_key": "a"}, 404,
     {"error": "not_found", "reason": "no exchange 'nope' in vhost '/'"}),
    ("DELETE", "/api/bindings/%2F/e/amq.topic/q/billing/nope", None, 404,
     {"error": "Object Not Found", "reason": "Not Found"}),
    ("POST", "/api/definitions", b"not json", 400, {"error": "bad_request",
                                                    "reason": "not_json"}),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "answer"), REFUSED)
def test_a_refused_request_changes_nothing(http_api: Http, msgbus_broker: Broker,
                                           channel: Channel, method: str, path: str,
                                           body: Any, status: int, answer: Any) -> None:
    channel.queue_declare("billing")
    channel.basic_publish("", "billing", b"kept")
    before = state(msgbus_broker)
    reply = http_api(method, path, body)
    assert (reply.status, reply.json()) == (status, answer)
    assert state(msgbus_broker) == before


@pytest.mark.parametrize(("method", "path", "body", "status", "answer"), REFUSED[:8])
def test_wrong_credentials_are_refused_before_anything_happens(
        http_api: Http, msgbus_broker: Broker, channel: Channel, method: str, path: str,
        body: Any, status: int, answer: Any) -> None:
    before = state(msgbus_broker)
    reply = http_api(method, path, {"durable": False}, auth=("guest", "wrong"))
    assert (reply.status, reply.json()["error"]) == (401, "not_authorized")
    assert state(msgbus_broker) == before


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)
QUEUE_BODIES = st.fixed_dictionaries({}, optional={
    "durable": JSON, "auto_delete": JSON, "arguments": JSON, "exclusive": JSON})


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=QUEUE_BODIES | JSON)
def test_any_queue_body_is_declared_or_refused_with_nothing_changed(
        http_api: Http, msgbus_broker: Broker, body: Any) -> None:
    before = state(msgbus_broker)
    reply = http_api("PUT", "/api/queues/%2F/drawn", body)
    if reply.status == 400:
        assert reply.json()["error"] == "bad_request"
        assert state(msgbus_broker) == before
    else:
        assert reply.status in (201, 204), reply.body
        assert http_api("DELETE", "/api/queues/%2F/drawn").status == 204


@pytest.mark.parametrize("bad", [
    {"bindings": [{"source": "work", "vhost": "/", "destination": "nowhere",
                   "destination_type": "queue", "routing_key": "k", "arguments": {}}]},
    {"bindings": [{"source": "work", "vhost": "/", "destination": "jobs",
                   "destination_type": "table", "routing_key": "k", "arguments": {}}]},
    {"exchanges": [{"name": "other", "vhost": "/", "type": "x-bogus"}]},
    {"queues": [{"name": "billing", "vhost": "/", "durable": True}]},
    {"queues": [{"name": "", "vhost": "/"}]},
    {"queues": [{"name": "fresh", "vhost": "/staging"}]},
])
def test_a_refused_import_changes_nothing(http_api: Http, msgbus_broker: Broker,
                                          channel: Channel, bad: dict[str, Any]) -> None:
    channel.queue_declare("billing")
    good = {"vhosts": [{"name": "new-vhost"}],
            "exchanges": [{"name": "work", "vhost": "/", "type": "topic", "durable": True,
                           "auto_delete": False, "internal": False, "arguments": {}}],
            "queues": [{"name": "jobs", "vhost": "/", "durable": True, "auto_delete": False,
                        "arguments": {}}],
            "bindings": [{"source": "work", "vhost": "/", "destination": "jobs",
                          "destination_type": "queue", "routing_key": "job.#",
                          "arguments": {}}]}
    for kind, entries in bad.items():
        good[kind] = [*good.get(kind, []), *entries]
    before = state(msgbus_broker)
    reply = http_api("POST", "/api/definitions", good)
    assert (reply.status, reply.json()["error"]) == (400, "bad_request")
    assert state(msgbus_broker) == before
    assert msgbus_broker.vhosts() == ["/"]
