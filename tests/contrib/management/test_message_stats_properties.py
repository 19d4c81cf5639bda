"""The message counters under any sequence of publishes, gets, consumers, acks, nacks and
recovers on two channels (one under confirms): what the client saw adds up to the
counters, and the counters add up across vhost, channels, queues and exchanges."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from contrib.management.stats import GLOBAL, Stats, channel_key
from tests.contrib.management.conftest import Http
from transports.memory import Broker

TARGETS = (("", "a"), ("", "b"), ("", "nowhere"), ("fan", ""), ("direct", "k"),
           ("direct", "none"))
QUEUES = ("a", "b")

operations = st.lists(st.one_of(
    st.tuples(st.just("publish"), st.integers(0, 1), st.sampled_from(TARGETS), st.booleans()),
    st.tuples(st.just("get"), st.integers(0, 1), st.sampled_from(QUEUES), st.booleans()),
    st.tuples(st.just("consume"), st.integers(0, 1), st.sampled_from(QUEUES), st.booleans()),
    st.tuples(st.sampled_from(["ack", "nack", "recover"]), st.integers(0, 1)),
), max_size=40)


def counts(stats: Stats, key: tuple[str, str, str]) -> Counter[str]:
    return Counter({name: value for name, value in stats.message_stats(key).items()
                    if isinstance(value, int)})


@settings(max_examples=60, deadline=None)
@given(operations)
def test_counters_add_up(ops: list[tuple[Any, ...]]) -> None:
    broker = Broker()
    stats = Stats(broker)
    stats.start()
    connection = broker.connect()
    channels = [connection.channel(), connection.channel()]
    channels[0].confirm_select()
    setup = channels[0]
    for queue in QUEUES:
        setup.queue_declare(queue)
    setup.exchange_declare("fan", "fanout")
    setup.exchange_declare("direct", "direct")
    for queue in QUEUES:
        setup.queue_bind(queue, "fan")
    setup.queue_bind("a", "direct", "k")
    seen: list[Counter[str]] = [Counter(), Counter()]
    consuming: set[tuple[int, str]] = set()
    for op in ops:
        kind, index = op[0], op[1]
        channel, saw = channels[index], seen[index]
        if kind == "publish":
            (exchange, key), mandatory = op[2], op[3]
            result = channel.basic_publish(exchange, key, b"m", mandatory=mandatory)
            saw["publish"] += 1
            saw["confirm"] += index == 0
            if not result.routed:
                saw["return_unroutable" if mandatory else "drop_unroutable"] += 1
        elif kind == "get":
            got = channel.basic_get(op[2], no_ack=op[3])
            saw["get_empty" if got is None else "get_no_ack" if op[3] else "get"] += 1
        elif kind == "consume" and (index, op[2]) not in consuming:
            consuming.add((index, op[2]))
            channel.basic_consume(op[2], f"c-{op[2]}", no_ack=op[3])
        elif kind == "ack":
            channel.basic_ack(0, multiple=True)
        elif kind == "nack":
            channel.basic_nack(0, multiple=True, requeue=True)
        elif kind == "recover":
            channel.basic_recover(requeue=True)

    vhost = counts(stats, ("vhost", "/", ""))
    assert counts(stats, GLOBAL) == vhost
    [connection_id] = [c.id for c in broker.connections()]
    by_channel = [counts(stats, channel_key(connection_id, c.channel_number))
                  for c in channels]
    assert by_channel[0] + by_channel[1] == +vhost
    queues = [counts(stats, ("queue", "/", q)) for q in QUEUES]
    exchanges = [counts(stats, ("exchange", "/", x)) for x in ("", "fan", "direct")]
    for names in ("publish", "confirm", "return_unroutable", "drop_unroutable", "get",
                  "get_no_ack", "get_empty"):
        assert [c[names] for c in by_channel] == [s[names] for s in seen], names
    for counter in (vhost, *by_channel, *queues):
        assert counter["deliver_get"] == (counter["get"] + counter["get_no_ack"]
                                          + counter["deliver"] + counter["deliver_no_ack"])
        assert counter["redeliver"] <= counter["deliver_get"]
    for name in ("get", "get_no_ack", "get_empty", "deliver", "deliver_no_ack", "ack",
                 "redeliver"):
        assert sum(q[name] for q in queues) == vhost[name], name
    assert sum(q["publish"] for q in queues) == sum(x["publish_out"] for x in exchanges)
    assert sum(x["publish_in"] for x in exchanges) == vhost["publish"]
    stats.stop()


def test_message_stats_appear_half_by_half(http_api: Http, msgbus_broker: Broker) -> None:
    """As on RabbitMQ (checked on a 3.10 node): nothing where nothing was counted, the
    publishing half once a channel published, the receiving half once it took."""
    def stats(path: str) -> Any:
        return http_api("GET", path).json().get("message_stats")

    channel = msgbus_broker.connect().channel()
    channel.queue_declare("jobs")
    assert stats("/api/vhosts/%2F") is None
    assert stats("/api/queues/%2F/jobs") is None
    assert stats("/api/exchanges/%2F/amq.direct") is None
    channel.basic_publish("", "jobs", b"m")
    assert sorted(k for k in stats("/api/vhosts/%2F") if not k.endswith("_details")) \
        == ["confirm", "drop_unroutable", "publish", "return_unroutable"]
    assert [k for k in stats("/api/queues/%2F/jobs") if not k.endswith("_details")] \
        == ["publish"]
    assert channel.basic_get("jobs") is not None
    assert len([k for k in stats("/api/vhosts/%2F") if not k.endswith("_details")]) == 12
