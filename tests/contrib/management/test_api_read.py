"""GET endpoints of the management API, over a broker set up through its client API."""

from __future__ import annotations

import pytest

from contrib.management import ManagementServer
from tests.contrib.management.conftest import Http
from transports.memory import Broker, Channel


@pytest.fixture
def channel(msgbus_broker: Broker) -> Channel:
    connection = msgbus_broker.connect(name="shop")
    channel = connection.channel()
    channel.exchange_declare("orders", "topic", durable=True)
    channel.queue_declare("billing", arguments={"x-message-ttl": 60000})
    channel.queue_bind("billing", "orders", "order.*")
    channel.exchange_declare("audit", "fanout")
    channel.exchange_bind("audit", "orders", "#")
    for n in range(3):
        channel.basic_publish("orders", "order.new", f"order {n}".encode())
    return channel


def test_overview_counts_objects_and_messages(http_api: Http, channel: Channel) -> None:
    reply = http_api("GET", "/api/overview")
    assert reply.status == 200
    overview = reply.json()
    assert overview["object_totals"] == {"channels": 1, "connections": 1, "consumers": 0,
                                         "exchanges": 9, "queues": 1}
    totals = overview["queue_totals"]
    assert (totals["messages"], totals["messages_ready"], totals["messages_unacknowledged"]) \
        == (3, 3, 0)
    assert overview["message_stats"]["publish"] == 3
    assert overview["rabbitmq_version"] == "3.10.8"
    assert [listener["protocol"] for listener in overview["listeners"]] == ["http"]


def test_vhosts_and_whoami(http_api: Http, msgbus_broker: Broker) -> None:
    msgbus_broker.add_vhost("staging")
    assert [v["name"] for v in http_api("GET", "/api/vhosts").json()] == ["/", "staging"]
    assert http_api("GET", "/api/vhosts/staging").json()["name"] == "staging"
    assert http_api("GET", "/api/vhosts/nope").status == 404
    assert http_api("GET", "/api/whoami").json() == {"name": "guest", "tags": ["administrator"]}


def test_queues_list_and_one(http_api: Http, channel: Channel) -> None:
    listed = http_api("GET", "/api/queues").json()
    assert [(q["name"], q["messages_ready"]) for q in listed] == [("billing", 3)]
    assert http_api("GET", "/api/queues/%2F").json() == listed
    one = http_api("GET", "/api/queues/%2F/billing").json()
    assert one["arguments"] == {"x-message-ttl": 60000}
    assert (one["messages"], one["consumers"], one["type"]) == (3, 0, "classic")
    assert one["message_stats"]["publish"] == 3
    assert one["consumer_details"] == []


def test_a_consumer_shows_on_its_queue_and_under_consumers(http_api: Http, channel: Channel
                                                           ) -> None:
    channel.basic_qos(2)
    tag = channel.basic_consume("billing", "biller")
    queue = http_api("GET", "/api/queues/%2F/billing").json()
    assert (queue["consumers"], queue["messages_ready"], queue["messages_unacknowledged"]) \
        == (1, 1, 2)
    [detail] = queue["consumer_details"]
    assert (detail["consumer_tag"], detail["prefetch_count"], detail["ack_required"]) \
        == (tag, 2, True)
    [consumer] = http_api("GET", "/api/consumers").json()
    assert consumer["queue"] == {"name": "billing", "vhost": "/"}
    assert consumer["channel_details"]["number"] == channel.channel_number
    assert http_api("GET", "/api/consumers/%2F").json() == [consumer]


def test_exchanges_list_one_and_the_default(http_api: Http, channel: Channel) -> None:
    names = [x["name"] for x in http_api("GET", "/api/exchanges/%2F").json()]
    assert names[0] == "" and "orders" in names and "amq.topic" in names
    orders = http_api("GET", "/api/exchanges/%2F/orders").json()
    assert (orders["type"], orders["durable"]) == ("topic", True)
    assert orders["message_stats"]["publish_in"] == 3
    default = http_api("GET", "/api/exchanges/%2F/amq.default").json()
    assert (default["name"], default["type"]) == ("", "direct")


def test_bindings_everywhere(http_api: Http, channel: Channel) -> None:
    every = http_api("GET", "/api/bindings").json()
    assert http_api("GET", "/api/bindings/%2F").json() == every
    pairs = {(b["source"], b["destination"], b["routing_key"]) for b in every}
    assert pairs == {("", "billing", "billing"), ("orders", "billing", "order.*"),
                     ("orders", "audit", "#")}
    queue_side = http_api("GET", "/api/queues/%2F/billing/bindings").json()
    assert {b["source"] for b in queue_side} == {"", "orders"}
    source = http_api("GET", "/api/exchanges/%2F/orders/bindings/source").json()
    assert {b["destination"] for b in source} == {"billing", "audit"}
    destination = http_api("GET", "/api/exchanges/%2F/audit/bindings/destination").json()
    assert [(b["source"], b["destination_type"]) for b in destination] \
        == [("orders", "exchange")]
    [pair] = http_api("GET", "/api/bindings/%2F/e/orders/q/billing").json()
    assert pair["properties_key"] == "order.%2A"  # quoted, as RabbitMQ does
    assert http_api("GET", "/api/bindings/%2F/e/orders/q/billing/order.%252A").json() == pair
    assert http_api("GET", "/api/bindings/%2F/e/orders/e/audit").json()[0]["routing_key"] \
        == "#"


def test_connections_and_channels_of_an_in_process_broker(http_api: Http, channel: Channel
                                                          ) -> None:
    [connection] = http_api("GET", "/api/connections").json()
    assert (connection["user"], connection["vhost"], connection["channels"]) == ("guest", "/", 1)
    assert (connection["type"], connection["user_provided_name"]) == ("direct", "shop")
    [listed] = http_api("GET", "/api/channels").json()
    assert listed["connection_details"]["name"] == connection["name"]
    assert (listed["number"], listed["consumer_count"]) == (channel.channel_number, 0)


def test_columns_keep_only_what_is_asked(http_api: Http, channel: Channel) -> None:
    assert http_api("GET", "/api/queues?columns=name,message_stats.publish").json() \
        == [{"name": "billing", "message_stats": {"publish": 3}}]


@pytest.mark.parametrize("path", [
    "/api/queues/nope", "/api/queues/%2F/nope", "/api/queues/nope/billing",
    "/api/queues/%2F/nope/bindings", "/api/exchanges/nope", "/api/exchanges/%2F/nope",
    "/api/exchanges/%2F/nope/bindings/source", "/api/bindings/nope",
    "/api/bindings/%2F/e/nope/q/billing", "/api/bindings/%2F/e/orders/q/nope",
    "/api/bindings/%2F/e/orders/q/billing/other", "/api/consumers/nope", "/api/nothing",
    "/static/nothing.js",
])
def test_what_does_not_exist_is_404_with_rabbitmqs_body(http_api: Http, channel: Channel,
                                                         path: str) -> None:
    reply = http_api("GET", path)
    assert (reply.status, reply.json()) == (404, {"error": "Object Not Found",
                                                  "reason": "Not Found"})


def test_every_request_needs_credentials(http_api: Http, msgbus_broker: Broker) -> None:
    msgbus_broker.add_user("alice", "secret", tags=("management",))  # may use the API
    missing = http_api("GET", "/api/overview", send_auth=False)
    assert (missing.status, missing.body) == (401, b"")
    assert missing.headers["www-authenticate"] == 'Basic realm="RabbitMQ Management"'
    wrong = http_api("GET", "/api/overview", auth=("alice", "guess"))
    assert (wrong.status, wrong.json()) == (401, {"error": "not_authorized",
                                                  "reason": "Login failed"})
    assert http_api("GET", "/", auth=("nobody", "x")).status == 401
    assert http_api("GET", "/api/whoami", auth=("alice", "secret")).json()["name"] == "alice"


def test_guest_only_from_loopback(msgbus_broker: Broker) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: it picks the outgoing address
        except OSError:
            pytest.skip("this machine has no non-loopback address")
        address = probe.getsockname()[0]
    if address.startswith("127."):
        pytest.skip("this machine has no non-loopback address")
    msgbus_broker.add_user("alice", "secret", tags=("management",))  # may use the API
    with ManagementServer(msgbus_broker, host=address, port=0) as server:
        client = Http(server.url)
        refused = client("GET", "/api/whoami")
        assert (refused.status, refused.json()["reason"]) \
            == (401, "User can only log in via localhost")
        assert client("GET", "/api/whoami", auth=("alice", "secret")).status == 200
        msgbus_broker.loopback_users = frozenset({"alice"})  # the broker's list decides
        assert client("GET", "/api/whoami", auth=("alice", "secret")).status == 401
        assert client("GET", "/api/whoami").status == 200


def test_the_page_and_its_assets_are_served(http_api: Http) -> None:
    page = http_api("GET", "/")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert b"/static/app.js" in page.body and b"http" not in page.body.split(b"<body>")[0] \
        .replace(b'http-equiv', b'')
    script = http_api("GET", "/static/app.js")
    assert script.headers["content-type"].startswith("application/javascript")
    assert b"/api/overview" in script.body
    assert http_api("GET", "/static/style.css").status == 200


def test_network_clients_show_their_peer_on_connections_channels_and_consumers(
        msgbus_broker: Broker) -> None:
    import pika

    from contrib.amqp_server import AmqpServer

    with AmqpServer(msgbus_broker, port=0) as amqp, \
            ManagementServer(msgbus_broker, port=0, amqp=amqp) as server:
        client = Http(server.url)
        connection = pika.BlockingConnection(pika.URLParameters(amqp.url))
        try:
            channel = connection.channel()
            channel.queue_declare("jobs")
            channel.basic_consume("jobs", lambda *args: None, consumer_tag="worker")
            [listed] = client("GET", "/api/connections").json()
            assert (listed["type"], listed["port"], listed["peer_host"]) \
                == ("network", amqp.port, "127.0.0.1")
            assert listed["name"] == f"127.0.0.1:{listed['peer_port']} -> 127.0.0.1:{amqp.port}"
            [on_channel] = client("GET", "/api/channels").json()
            assert on_channel["name"] == f"{listed['name']} (1)"
            assert on_channel["connection_details"]["peer_port"] == listed["peer_port"]
            [consumer] = client("GET", "/api/consumers").json()
            assert consumer["consumer_tag"] == "worker"
            assert consumer["channel_details"]["connection_name"] == listed["name"]
        finally:
            connection.close()
