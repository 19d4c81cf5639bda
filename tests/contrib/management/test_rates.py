"""Message rates as RabbitMQ computes them (the change between the last two samples, taken
every 5 s of the broker's clock), and msgbus's own endpoints: routing explanation, history."""

from __future__ import annotations

from msgbus.clock import ManualClock
from tests.contrib.management.conftest import Http
from transports.memory import Broker


def test_rates_are_the_change_between_the_last_two_samples(
        http_api: Http, msgbus_broker: Broker, msgbus_clock: ManualClock) -> None:
    channel = msgbus_broker.connect().channel()
    channel.queue_declare("jobs")
    for _ in range(10):
        channel.basic_publish("", "jobs", b"x")
    overview = http_api("GET", "/api/overview").json()
    assert overview["message_stats"]["publish"] == 10
    assert overview["message_stats"]["publish_details"] == {"rate": 0.0}  # one sample so far
    msgbus_clock.advance(5)
    overview = http_api("GET", "/api/overview").json()
    assert overview["message_stats"]["publish_details"] == {"rate": 2.0}
    assert overview["queue_totals"]["messages_details"] == {"rate": 2.0}
    for _ in range(5):
        delivery = channel.basic_get("jobs")
        assert delivery is not None
        channel.basic_ack(delivery.delivery_tag)
    msgbus_clock.advance(2)  # less than the interval: no new sample, the same rates
    assert http_api("GET", "/api/overview").json()["message_stats"]["publish_details"] \
        == {"rate": 2.0}
    msgbus_clock.advance(3)
    queue = http_api("GET", "/api/queues/%2F/jobs").json()
    stats = queue["message_stats"]
    assert (stats["publish_details"], stats["get_details"], stats["ack_details"]) \
        == ({"rate": 0.0}, {"rate": 1.0}, {"rate": 1.0})
    assert (stats["publish"], stats["get"], stats["ack"], stats["deliver_get"]) == (10, 5, 5, 5)
    assert queue["messages_details"] == {"rate": -1.0}
    history = http_api("GET", "/msgbus/history").json()
    assert history["interval"] == 5.0
    assert [(p["publish"], p["deliver_get"], p["ack"]) for p in history["points"]] \
        == [(2.0, 0.0, 0.0), (0.0, 1.0, 1.0)]


def test_unroutable_publishes_are_dropped_or_returned(http_api: Http, msgbus_broker: Broker
                                                      ) -> None:
    channel = msgbus_broker.connect().channel()
    channel.basic_publish("amq.direct", "nowhere", b"x")
    channel.basic_publish("amq.direct", "nowhere", b"x", mandatory=True)
    stats = http_api("GET", "/api/overview").json()["message_stats"]
    assert (stats["publish"], stats["drop_unroutable"], stats["return_unroutable"]) == (2, 1, 1)
    exchange = http_api("GET", "/api/exchanges/%2F/amq.direct").json()["message_stats"]
    assert (exchange["publish_in"], exchange.get("publish_out", 0)) == (2, 0)


def test_consumer_deliveries_and_redeliveries_are_counted(http_api: Http,
                                                          msgbus_broker: Broker) -> None:
    channel = msgbus_broker.connect().channel()
    channel.queue_declare("jobs")
    channel.basic_publish("", "jobs", b"x")
    channel.basic_consume("jobs", "c")
    channel.basic_recover(requeue=True)
    stats = http_api("GET", "/api/queues/%2F/jobs").json()["message_stats"]
    assert (stats["deliver"], stats["redeliver"], stats["deliver_get"]) == (2, 1, 2)


def test_explain_says_which_bindings_match_and_why(http_api: Http, msgbus_broker: Broker
                                                   ) -> None:
    channel = msgbus_broker.connect().channel()
    channel.exchange_declare("logs", "topic")
    for queue, key in (("errors", "*.error"), ("all", "#"), ("kern", "kern.*")):
        channel.queue_declare(queue)
        channel.queue_bind(queue, "logs", key)
    reply = http_api("GET", "/msgbus/explain?vhost=%2F&exchange=logs&routing_key=app.error")
    assert reply.status == 200
    explained = reply.json()
    assert [(b["routing_key"], b["matches"]) for b in explained["bindings"]] \
        == [("*.error", True), ("#", True), ("kern.*", False)]
    assert explained["destinations"] == ["all", "errors"]
    assert all(b["steps"] for b in explained["bindings"])
    assert "topic exchange, routing key 'app.error'" in explained["text"]


def test_explain_headers_and_bad_requests(http_api: Http, msgbus_broker: Broker) -> None:
    channel = msgbus_broker.connect().channel()
    channel.queue_declare("pdfs")
    channel.queue_bind("pdfs", "amq.headers", "", {"x-match": "any", "format": "pdf"})
    ok = http_api("GET", "/msgbus/explain?exchange=amq.headers&headers=format%3Dpdf").json()
    assert ok["destinations"] == ["pdfs"]
    assert http_api("GET", "/msgbus/explain?exchange=nope").status == 404
    assert http_api("GET", "/msgbus/explain?exchange=amq.topic&vhost=nope").status == 404
    bad = http_api("GET", "/msgbus/explain?exchange=amq.headers&headers=novalue")
    assert bad.status == 400
