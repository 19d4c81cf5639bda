"""Broker events say which connection and channel acted, and the bookkeeping events (a
publisher confirm sent back, an empty basic.get, a channel closed) reach listeners while a
trace of messages leaves them out."""

from __future__ import annotations

from contrib.recorder import Recorder
from contrib.trace import trace
from transports.memory import Broker, BrokerEvent


def test_events_name_the_connection_and_channel_that_acted() -> None:
    broker = Broker()
    events: list[BrokerEvent] = []
    broker.add_listener(events.append)
    publisher = broker.connect().channel()
    receiver = broker.connect().channel()
    [first, second] = [c.id for c in broker.connections()]
    publisher.confirm_select()
    publisher.queue_declare("jobs")
    publisher.basic_publish("", "jobs", b"1")
    publisher.basic_publish("", "jobs", b"2")
    got = receiver.basic_get("jobs")
    assert got is not None
    receiver.basic_ack(got.delivery_tag)
    receiver.basic_consume("jobs", "c", no_ack=True)
    assert receiver.basic_get("jobs") is None
    receiver.close()
    seen = [(e.kind, e.connection, e.channel, e.no_ack, e.delivery_tag, e.reason)
            for e in events if e.kind not in ("published", "routed")]
    assert seen == [
        ("confirmed", first, 1, False, 1, "ack"),
        ("confirmed", first, 1, False, 2, "ack"),
        ("delivered", second, 1, False, 1, ""),
        ("acked", second, 1, False, 1, ""),
        ("delivered", second, 1, True, 2, ""),
        ("get-empty", second, 1, False, 0, ""),
        ("channel-closed", second, 1, False, 0, ""),
    ]
    assert {(e.connection, e.channel) for e in events if e.kind == "published"} == {(first, 1)}


def test_a_refused_publish_is_confirmed_with_a_nack() -> None:
    broker = Broker()
    channel = broker.connect().channel()
    channel.queue_declare("small",
                          arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    channel.confirm_select()
    recorder = Recorder(broker)
    recorder.start()
    channel.basic_publish("", "small", b"1")
    channel.basic_publish("", "small", b"2")
    recorder.stop()
    assert [(e.delivery_tag, e.reason) for e in recorder.select("confirmed")] \
        == [(1, "ack"), (2, "nack")]
    # its report tells what became of the messages: two publishes, one refused
    assert recorder.report().startswith("broker events (5):\n")
    assert "confirm" not in recorder.report()


def test_the_trace_of_messages_leaves_the_bookkeeping_out() -> None:
    broker = Broker()
    channel = broker.connect().channel()
    channel.confirm_select()
    channel.queue_declare("jobs")
    with trace(broker) as tracer:
        channel.basic_publish("", "jobs", b"x")
        assert channel.basic_get("jobs", no_ack=True) is not None
        assert channel.basic_get("jobs") is None
        channel.close()
    assert tracer.lines == [
        "    publish  the default exchange, routing key 'jobs', body b'x'",
        "      route  the default exchange sends it to the queue named 'jobs'",
        "    deliver  queue 'jobs' -> basic.get (delivery tag 1)",
    ]
    assert [e.kind for e in tracer.events] == ["published", "routed", "delivered"]


def test_the_bookkeeping_events_describe_themselves() -> None:
    assert BrokerEvent("confirmed", "/", delivery_tag=3, reason="nack", connection=2,
                       channel=1).describe() \
        == "confirmed publish 3 of channel 1 to the publisher (nack)"
    assert BrokerEvent("get-empty", "/", queue="jobs").describe() \
        == "queue 'jobs': basic.get found it empty"
    assert BrokerEvent("channel-closed", "/", connection=2, channel=5).describe() \
        == "channel 5 of connection 2 closed"
