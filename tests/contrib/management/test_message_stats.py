"""Message counters as RabbitMQ 3.10's management API keeps them: the same scenario, six
channels each doing one kind of thing (publishing with and without confirms, dropped and
returned publishes, basic.get both ways, an empty get, a redelivery, a consumer with and
one without acknowledgements, an open transaction), run on RabbitMQ and on the broker —
served to pika over AMQP, and in-process through the pika facade — must leave the same
counters per vhost, queue, exchange and channel, and the same channel states.

So must a direct-reply RPC, a channel number used again after a close, and the API's own
publishes and gets; one channel's page and a connection's channels have RabbitMQ's fields.

RabbitMQ collects its statistics every 5 s (``collect_statistics_interval``): its view is
read until it shows what the broker showed (30 s at most); the counters are compared, not
the rates. What a closed channel counted is lost on RabbitMQ when its metrics are cleared
away before they were collected: a scenario that closes a channel waits at a checkpoint
until RabbitMQ shows what the broker showed there."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pika
import pika.exceptions
import pytest

from contrib.management import ManagementServer
from contrib.pika_compat import BlockingConnection
from tests.contrib.management.conftest import Http, fresh_vhost
from tests.contrib.management.test_differential import INTERNALS
from transports.memory import Broker

QUEUE, OTHER, EMPTY, TXQ = "stats-q", "stats-q2", "stats-empty", "stats-tx"
DIRECT, FANOUT = "stats-direct", "stats-fanout"
pytestmark = pytest.mark.rabbitmq

CHANNEL_STATES = ("confirm", "transactional", "messages_unconfirmed", "messages_uncommitted",
                  "acks_uncommitted", "messages_unacknowledged", "consumer_count")


def scenario(connection: Any, checkpoint: Callable[[], None]) -> None:
    """What the client does; every channel stays open for the look afterwards."""
    confirmed = connection.channel()  # 1: publishes under confirms
    confirmed.confirm_delivery()
    for queue in (QUEUE, OTHER, EMPTY, TXQ):
        confirmed.queue_declare(queue)
    confirmed.exchange_declare(DIRECT, "direct")
    confirmed.exchange_declare(FANOUT, "fanout")
    confirmed.queue_bind(QUEUE, DIRECT, "k")
    for queue in (QUEUE, OTHER):
        confirmed.queue_bind(queue, FANOUT)
    for _ in range(3):
        confirmed.basic_publish("", QUEUE, b"m")
    for _ in range(2):
        confirmed.basic_publish(DIRECT, "k", b"m")
    confirmed.basic_publish(FANOUT, "", b"m")  # to two queues
    confirmed.basic_publish(DIRECT, "nowhere", b"m")  # dropped
    with pytest.raises(pika.exceptions.UnroutableError):
        confirmed.basic_publish(DIRECT, "nowhere", b"m", mandatory=True)  # returned

    plain = connection.channel()  # 2: publishes without confirms
    for queue in (QUEUE, QUEUE, TXQ, TXQ):
        plain.basic_publish("", queue, b"m")
    plain.basic_publish(DIRECT, "nowhere", b"m", mandatory=True)  # returned
    plain.queue_declare(QUEUE, passive=True)  # a round trip: the queues have them

    getter = connection.channel()  # 3: basic.get both ways, a redelivery, empty gets
    assert getter.basic_get(QUEUE, auto_ack=True)[0] is not None
    method, _, _ = getter.basic_get(QUEUE)
    getter.basic_ack(method.delivery_tag)
    method, _, _ = getter.basic_get(QUEUE)
    getter.basic_nack(method.delivery_tag, requeue=True)
    method, _, _ = getter.basic_get(QUEUE)
    assert method.redelivered
    getter.basic_ack(method.delivery_tag)
    assert getter.basic_get(EMPTY, auto_ack=True)[0] is None
    assert getter.basic_get(EMPTY)[0] is None

    consumer = connection.channel()  # 4: a consumer that acknowledges, after a recover
    deliveries = consumer.consume(OTHER, inactivity_timeout=30)
    method, _, _ = next(deliveries)
    assert method is not None and not method.redelivered
    consumer.basic_recover(requeue=True)
    method, _, _ = next(deliveries)
    assert method is not None and method.redelivered
    consumer.basic_ack(method.delivery_tag)

    drainer = connection.channel()  # 5: a consumer without acknowledgements
    left = drainer.queue_declare(QUEUE, passive=True).method.message_count
    drained = drainer.consume(QUEUE, auto_ack=True, inactivity_timeout=30)
    for _ in range(left):
        assert next(drained)[0] is not None

    tx = connection.channel()  # 6: a transaction left open
    tx.tx_select()
    tx.basic_get(TXQ)
    method, _, _ = tx.basic_get(TXQ)
    tx.basic_ack(method.delivery_tag, multiple=True)
    tx.basic_publish("", QUEUE, b"m")
    tx.queue_declare(QUEUE, passive=True)


def direct_reply_to(connection: Any, checkpoint: Callable[[], None]) -> None:
    """An RPC over direct reply-to: RabbitMQ counts the reply as a publish that reached
    no queue, and its delivery not at all."""
    client = connection.channel()
    client.queue_declare(QUEUE)
    replies: list[bytes] = []
    client.basic_consume("amq.rabbitmq.reply-to", lambda ch, m, p, body: replies.append(body),
                         auto_ack=True)
    client.basic_publish("", QUEUE, b"request",
                         pika.BasicProperties(reply_to="amq.rabbitmq.reply-to"))
    server = connection.channel()
    server.queue_declare(QUEUE, passive=True)
    method, properties, _ = server.basic_get(QUEUE, auto_ack=True)
    assert method is not None
    server.basic_publish("", properties.reply_to, b"reply")
    deadline = time.monotonic() + 30
    while not replies and time.monotonic() < deadline:
        connection.process_data_events(0.1)
    assert replies == [b"reply"]


def reused_channel(connection: Any, checkpoint: Callable[[], None]) -> None:
    """A channel's counters go with it: the next channel of the same number starts
    afresh; the vhost's, queue's and exchange's stay. (RabbitMQ loses what a channel
    counted if it closes before its statistics were collected: the checkpoint waits.)"""
    first = connection.channel()
    first.queue_declare(QUEUE)
    for _ in range(2):
        first.basic_publish("", QUEUE, b"m")
    assert first.basic_get(QUEUE, auto_ack=True)[0] is not None
    number = first.channel_number
    checkpoint()
    first.close()
    second = connection.channel()
    assert second.channel_number == number
    second.basic_publish("", QUEUE, b"m")
    second.queue_declare(QUEUE, passive=True)


def counters(data: dict[str, Any]) -> dict[str, int] | None:
    """The counters of an object's ``message_stats`` (None when it has none)."""
    stats = data.get("message_stats")
    if stats is None:
        return None
    return {name: value for name, value in stats.items() if not name.endswith("_details")}


def look(client: Http, vhost: str, connection_name: str | None) -> dict[str, Any]:
    """The counters of the vhost, the scenario's queues and exchanges, and each channel of
    the connection called ``connection_name`` (any connection when None) by number."""
    v = quote(vhost, safe="")
    view: dict[str, Any] = {"vhost": counters(client("GET", f"/api/vhosts/{v}").json())}
    for queue in (QUEUE, OTHER, EMPTY, TXQ):
        view[f"queue {queue}"] = counters(client("GET", f"/api/queues/{v}/{queue}").json())
    for exchange in (DIRECT, FANOUT, "amq.default", "amq.topic"):
        view[f"exchange {exchange}"] = counters(
            client("GET", f"/api/exchanges/{v}/{exchange}").json())
    connections = [c["name"] for c in client("GET", "/api/connections").json()
                   if connection_name is None or c.get("user_provided_name") == connection_name]
    for channel in client("GET", "/api/channels").json():
        details = channel["connection_details"]
        if isinstance(details, dict) and details.get("name") in connections:
            view[f"channel {channel['number']}"] = (
                counters(channel), {name: channel[name] for name in CHANNEL_STATES})
    return view


def eventually(read: Callable[[], dict[str, Any]], wanted: dict[str, Any]) -> dict[str, Any]:
    """RabbitMQ's view once it shows ``wanted`` (its statistics are collected every 5 s),
    or as it is after 30 s."""
    deadline = time.monotonic() + 30
    while True:
        seen = read()
        if seen == wanted or time.monotonic() > deadline:
            return seen
        time.sleep(0.5)


def differences(rabbitmq: dict[str, Any], msgbus: dict[str, Any]) -> str:
    return "\n".join(f"{key}:\n  RabbitMQ: {rabbitmq.get(key)}\n  msgbus:   {msgbus.get(key)}"
                     for key in sorted(set(rabbitmq) | set(msgbus))
                     if rabbitmq.get(key) != msgbus.get(key))


def on_vhost(url: str, vhost: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))


Scenario = Callable[[Any, Callable[[], None]], None]


def no_checkpoint() -> None:
    pass


def pika_scenario(run: Scenario, url: str, name: str, then: Callable[[], dict[str, Any]],
                  checkpoint: Callable[[], None] = no_checkpoint) -> dict[str, Any]:
    parameters = pika.URLParameters(url)
    parameters.client_properties = {"connection_name": name}
    connection = pika.BlockingConnection(parameters)
    try:
        run(connection, checkpoint)
        return then()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def on_rabbitmq() -> dict[str, dict[str, Any]]:
    """What RabbitMQ showed after each scenario: run once, compared with both ways of
    serving the broker."""
    return {}


@pytest.mark.parametrize("run", [scenario, direct_reply_to, reused_channel],
                         ids=["six-channels", "direct-reply-to", "reused-channel"])
@pytest.mark.parametrize("how", ["served", "in-process"])
def test_the_counters_are_rabbitmqs(how: str, run: Scenario, rabbitmq_http: Http,
                                    amqp_url: str, on_rabbitmq: dict[str, dict[str, Any]]
                                    ) -> None:
    broker = Broker()
    name = f"stats-{uuid.uuid4().hex[:8]}"
    at_checkpoints: list[dict[str, Any]] = []  # what the broker showed at each checkpoint
    if how == "served":
        from contrib.amqp_server import AmqpServer

        with AmqpServer(broker, port=0) as amqp, \
                ManagementServer(broker, port=0, amqp=amqp) as server:
            def served() -> dict[str, Any]:
                return look(Http(server.url), "/", name)

            got = pika_scenario(run, amqp.url, name, served,
                                lambda: at_checkpoints.append(served()))
    else:
        with ManagementServer(broker, port=0) as server:
            def in_process() -> dict[str, Any]:
                return look(Http(server.url), "/", None)

            connection = BlockingConnection(broker=broker)
            try:
                run(connection, lambda: at_checkpoints.append(in_process()))
                got = in_process()
            finally:
                connection.close()

    if run.__name__ not in on_rabbitmq:
        with fresh_vhost(rabbitmq_http) as vhost:
            def rabbitmq() -> dict[str, Any]:
                return look(rabbitmq_http, vhost, name)

            wanted = iter(at_checkpoints)

            def caught_up() -> None:  # with what the broker showed at the same checkpoint
                eventually(rabbitmq, next(wanted))

            on_rabbitmq[run.__name__] = pika_scenario(
                run, on_vhost(amqp_url, vhost), name, lambda: eventually(rabbitmq, got),
                caught_up)
    expected = on_rabbitmq[run.__name__]
    assert expected == got, differences(expected, got)


def api_requests(client: Http, vhost: str) -> None:
    """Publishes and gets through the management API itself, which RabbitMQ makes on a
    channel of its own (publishing under confirms, mandatory)."""
    v = quote(vhost, safe="")
    assert client("PUT", f"/api/queues/{v}/{QUEUE}", {}).status in (201, 204)
    assert client("PUT", f"/api/exchanges/{v}/{DIRECT}", {"type": "direct"}).status \
        in (201, 204)
    publish = {"payload": "m", "payload_encoding": "string", "properties": {}}
    assert client("POST", f"/api/exchanges/{v}/{DIRECT}/publish",
                  dict(publish, routing_key="nowhere")).json() == {"routed": False}
    for _ in range(3):
        assert client("POST", f"/api/exchanges/{v}/amq.default/publish",
                      dict(publish, routing_key=QUEUE)).json() == {"routed": True}
    for count, mode, got in ((2, "ack_requeue_true", 2), (1, "reject_requeue_false", 1),
                             (5, "ack_requeue_false", 2)):
        assert len(client("POST", f"/api/queues/{v}/{QUEUE}/get",
                          {"count": count, "ackmode": mode, "encoding": "auto"}).json()) == got


def test_the_apis_own_publishes_and_gets_are_counted_as_rabbitmq_counts_them(
        rabbitmq_http: Http) -> None:
    with ManagementServer(Broker(), port=0) as server:
        client = Http(server.url)
        api_requests(client, "/")
        got = look(client, "/", None)
    # RabbitMQ's API makes each request on a channel it closes at once, and loses what
    # that channel counted when its metrics are cleared away (every 2 minutes) before they
    # were collected (every 5 s): a miss is tried again, on a fresh vhost
    for _ in range(3):
        with fresh_vhost(rabbitmq_http) as vhost:
            api_requests(rabbitmq_http, vhost)
            expected = eventually(lambda: look(rabbitmq_http, vhost, "no connection"), got)
        if expected == got:
            break
    assert expected == got, differences(expected, got)


def one_channel(client: Http, connection_name: str, wait: bool) -> dict[str, Any]:
    """``/api/channels/{name}``, ``/api/connections/{name}/channels`` and an unknown
    channel, for the client called ``connection_name`` (on RabbitMQ, once its consumer's
    statistics are out)."""
    deadline = time.monotonic() + 30
    while True:
        names = [c["name"] for c in client("GET", "/api/connections").json()
                 if c.get("user_provided_name") == connection_name]
        channel = client("GET", f"/api/channels/{quote(names[0] + ' (1)', safe='')}") \
            if names else None
        ready = channel is not None and channel.status == 200 \
            and channel.json().get("consumer_count") == 1
        if ready or not wait:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"RabbitMQ showed no channel of {connection_name} within 30 s")
        time.sleep(0.25)
    assert channel is not None
    found = channel.json()
    listed = client("GET", f"/api/connections/{quote(names[0], safe='')}/channels").json()
    missing = client("GET", f"/api/channels/{quote(names[0] + ' (9)', safe='')}")
    return {
        "channel": sorted(set(found) - INTERNALS),
        "consumers": [sorted(set(c) - INTERNALS) for c in found["consumer_details"]],
        "breakdowns": (found["deliveries"], found["publishes"]),
        "connection's channels": [sorted(set(c) - INTERNALS) for c in listed],
        "unknown channel": (missing.status, missing.json()),
    }


def consuming_client(url: str, name: str, look_now: Callable[[], dict[str, Any]]
                     ) -> dict[str, Any]:
    def run(connection: Any, checkpoint: Callable[[], None]) -> None:
        channel = connection.channel()
        channel.queue_declare(QUEUE)
        channel.basic_consume(QUEUE, lambda *args: None)

    return pika_scenario(run, url, name, look_now)


def test_one_channel_and_a_connections_channels_look_as_on_rabbitmq(
        rabbitmq_http: Http, rabbitmq_vhost: str, amqp_url: str) -> None:
    from contrib.amqp_server import AmqpServer

    name = f"stats-{uuid.uuid4().hex[:8]}"
    expected = consuming_client(on_vhost(amqp_url, rabbitmq_vhost), name,
                                lambda: one_channel(rabbitmq_http, name, wait=True))
    broker = Broker()
    with AmqpServer(broker, port=0) as amqp, \
            ManagementServer(broker, port=0, amqp=amqp) as server:
        got = consuming_client(amqp.url, name, lambda: one_channel(Http(server.url), name,
                                                                   wait=False))
    assert got == expected
