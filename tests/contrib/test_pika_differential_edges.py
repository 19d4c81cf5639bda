"""Edge cases of the pika differential tests: the same program on RabbitMQ and on the memory
facade, compared observation by observation (argument validation, redeclares, names,
bindings, message checks, dead-lettering details, prefetch and expiry)."""

from __future__ import annotations

import decimal
import itertools
from typing import Any

import pika
import pytest

from tests.contrib.pika_scenarios import Action, World, check, declare, each_on_its_own_channel
from tests.support import Names

pytestmark = pytest.mark.rabbitmq

# -- queue.declare arguments ------------------------------------------------------------


def test_queue_argument_validation(amqp_url: str, names: Names) -> None:
    arguments: dict[str, dict[str, Any]] = {
        "ttl str": {"x-message-ttl": "1000"},
        "ttl bool": {"x-message-ttl": True},
        "ttl zero": {"x-message-ttl": 0},
        "ttl ten years": {"x-message-ttl": 315360000000},
        "ttl over ten years": {"x-message-ttl": 2**40},
        "ttl decimal": {"x-message-ttl": decimal.Decimal("1.5")},
        "ttl void": {"x-message-ttl": None},
        "expires 0": {"x-expires": 0},
        "expires -1": {"x-expires": -1},
        "expires too large": {"x-expires": 2**40},
        "max-length -1": {"x-max-length": -1},
        "max-length 0": {"x-max-length": 0},
        "max-length-bytes str": {"x-max-length-bytes": "x"},
        "overflow int": {"x-overflow": 1},
        "overflow bytes": {"x-overflow": b"drop-head"},
        "overflow upper case": {"x-overflow": "DROP-HEAD"},
        "dlx int": {"x-dead-letter-exchange": 1},
        "dlx bytes": {"x-dead-letter-exchange": b"abc"},
        "dlx missing exchange": {"x-dead-letter-exchange": "does-not-exist"},
        "dlrk without dlx": {"x-dead-letter-routing-key": "k"},
        "dlrk int": {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": 5},
        "priority 255": {"x-max-priority": 255},
        "priority 256": {"x-max-priority": 256},
        "priority huge": {"x-max-priority": 2**62},
        "mode int": {"x-queue-mode": 1},
        "mode bytes": {"x-queue-mode": b"lazy"},
        "mode unknown": {"x-queue-mode": "bad"},
        "mode non-ascii": {"x-queue-mode": "é"},
        "type int": {"x-queue-type": 1},
        "type unknown": {"x-queue-type": "bad"},
        "single active int": {"x-single-active-consumer": 1},
        "single active str": {"x-single-active-consumer": "true"},
        "version 2": {"x-queue-version": 2},
        "version 3": {"x-queue-version": 3},
        "version str": {"x-queue-version": "1"},
        "version -1": {"x-queue-version": -1},
        "master locator ok": {"x-queue-master-locator": "min-masters"},
        "master locator unknown": {"x-queue-master-locator": "bad"},
        "master locator int": {"x-queue-master-locator": 5},
        "unknown x-arg": {"x-foo": "bar"},
        "quorum-only arg": {"x-delivery-limit": 5},
        "stream-only arg": {"x-max-age": "1D"},
        "two foreign args": {"x-delivery-limit": 1, "x-max-age": "1D"},
        "foreign arg and bad ttl": {"x-delivery-limit": 1, "x-message-ttl": "a"},
        "bad expires before bad ttl": {"x-message-ttl": "a", "x-expires": "b"},
        "bad type before bad ttl": {"x-message-ttl": "a", "x-queue-type": "bad"},
        "bad dlx before bad ttl": {"x-message-ttl": "a", "x-dead-letter-exchange": 5},
        "long reason": {"x-queue-mode": "z" * 300},
    }

    def scenario(w: World) -> None:
        each_on_its_own_channel(w, {
            label: declare(names, f"a{i}", arguments=value)
            for i, (label, value) in enumerate(arguments.items())})

    check(scenario, amqp_url, names)


def test_queue_redeclare_equivalence(amqp_url: str, names: Names) -> None:
    cases: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        ("classic type vs none", {}, {"arguments": {"x-queue-type": "classic"}}),
        ("none vs classic type", {"arguments": {"x-queue-type": "classic"}}, {}),
        ("ttl differs", {"arguments": {"x-message-ttl": 1000}},
         {"arguments": {"x-message-ttl": 2000}}),
        ("ttl dropped", {"arguments": {"x-message-ttl": 1000}}, {}),
        ("invalid ttl on redeclare", {}, {"arguments": {"x-message-ttl": "abc"}}),
        ("number vs string", {"arguments": {"x-max-length": 5}},
         {"arguments": {"x-max-length": "5"}}),
        ("unknown args differ", {"arguments": {"x-foo": 1}}, {"arguments": {"x-foo": 2}}),
        ("str vs bytes", {"arguments": {"x-dead-letter-exchange": "abc"}},
         {"arguments": {"x-dead-letter-exchange": b"abc"}}),
        ("bool vs int", {"arguments": {"x-max-priority": 1}},
         {"arguments": {"x-max-priority": True}}),
        ("decimal vs int", {"arguments": {"x-max-priority": 1}},
         {"arguments": {"x-max-priority": decimal.Decimal(1)}}),
        ("checked in order", {"arguments": {"x-message-ttl": 5, "x-max-length": 5}},
         {"arguments": {"x-max-length": 6, "x-message-ttl": 6}}),
        ("expires before ttl", {"arguments": {"x-message-ttl": 5, "x-expires": 100000}},
         {"arguments": {"x-message-ttl": 6, "x-expires": 200000}}),
        ("master locator", {"arguments": {"x-queue-master-locator": "min-masters"}},
         {"arguments": {"x-queue-master-locator": "random"}}),
        ("exclusive durable", {"exclusive": True, "durable": True},
         {"exclusive": True, "durable": False}),
        ("exclusive vs not", {"exclusive": True}, {}),
        ("not vs exclusive", {}, {"exclusive": True}),
        ("durable before arguments", {"durable": True},
         {"arguments": {"x-message-ttl": 5}}),
    ]

    def scenario(w: World) -> None:
        for i, (label, first, second) in enumerate(cases):
            q = names.queue(f"r{i}")
            ch = w.channel(confirm=False)
            w.attempt(label + " first", lambda: ch.queue_declare(q, **first))  # noqa: B023
            w.attempt(label, lambda: ch.queue_declare(q, **second))  # noqa: B023
            w.record(label + " open", (ch.is_open, ch.connection.is_open))

    check(scenario, amqp_url, names)


# -- exchanges, bindings, names -----------------------------------------------------------


def test_exchange_declare_and_delete_edges(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        x = names.exchange("x")
        w.channel().exchange_declare(x, "direct")
        each_on_its_own_channel(w, {
            "default exchange, unknown type": lambda ch: ch.exchange_declare("", "foo"),
            "default exchange, passive": lambda ch: ch.exchange_declare("", passive=True),
            "type that is a word": lambda ch: ch.exchange_declare(names.exchange("t1"), "bar"),
            "type that is no word": lambda ch: ch.exchange_declare(names.exchange("t2"),
                                                                   "zzqx-nope"),
            "type in capitals": lambda ch: ch.exchange_declare(names.exchange("t3"), "Direct"),
            "empty type": lambda ch: ch.exchange_declare(names.exchange("t4"), ""),
            "plugin type": lambda ch: ch.exchange_declare(names.exchange("t5"),
                                                          "x-delayed-message"),
            "unknown type, existing exchange": lambda ch: ch.exchange_declare(x, "nope-type"),
            "passive ignores type": lambda ch: ch.exchange_declare(x, "fanout", passive=True),
            "amq.direct as declared": lambda ch: ch.exchange_declare("amq.direct", "direct",
                                                                     durable=True),
            "amq.direct not durable": lambda ch: ch.exchange_declare("amq.direct", "direct"),
            "new amq. exchange": lambda ch: ch.exchange_declare("amq.zzq", "direct"),
            "delete missing amq. exchange": lambda ch: ch.exchange_delete("amq.zzq"),
            "delete default": lambda ch: ch.exchange_delete(""),
            "alternate int, new": lambda ch: ch.exchange_declare(
                names.exchange("ae1"), "direct", arguments={"alternate-exchange": 5}),
            "alternate bytes, new": lambda ch: ch.exchange_declare(
                names.exchange("ae2"), "direct", arguments={"alternate-exchange": b"abc"}),
            "alternate int, existing": lambda ch: ch.exchange_declare(
                x, "direct", arguments={"alternate-exchange": 5}),
            "other argument, existing": lambda ch: ch.exchange_declare(
                x, "direct", arguments={"foo": "abc"}),
            "type and durable differ": lambda ch: ch.exchange_declare(x, "fanout",
                                                                      durable=True),
        })

    check(scenario, amqp_url, names)


def test_the_trace_exchange_exists_and_is_internal(amqp_url: str, names: Names) -> None:
    # RabbitMQ 3.10 predeclares amq.rabbitmq.trace in every vhost: a durable internal topic
    # exchange that the firehose tracer publishes to and clients may only bind to
    trace = "amq.rabbitmq.trace"

    def scenario(w: World) -> None:
        q = names.queue("traced")
        each_on_its_own_channel(w, {
            "passive": lambda ch: ch.exchange_declare(trace, passive=True),
            "as declared": lambda ch: ch.exchange_declare(trace, "topic", durable=True,
                                                          internal=True),
            "not internal": lambda ch: ch.exchange_declare(trace, "topic", durable=True),
            "other type": lambda ch: ch.exchange_declare(trace, "direct", durable=True,
                                                         internal=True),
            "publish": lambda ch: (ch.confirm_delivery(), ch.basic_publish(trace, "k", b"m")),
            "bind a queue": lambda ch: (ch.queue_declare(q), ch.queue_bind(q, trace, "#"))[1],
            "bind it to another exchange": lambda ch: ch.exchange_bind(
                "amq.topic", trace, "#"),
            "delete": lambda ch: ch.exchange_delete(trace),
        })

    check(scenario, amqp_url, names)


def test_bindings_missing_ends_and_exclusive_queues(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        x, q, excl = names.exchange("x"), names.queue("q"), names.queue("excl")
        owner = w.channel()
        owner.exchange_declare(x, "direct")
        owner.queue_declare(q)
        owner.queue_declare(excl, exclusive=True)
        owner.queue_bind(excl, x, "bound")
        each_on_its_own_channel(w, {
            "both ends missing": lambda ch: ch.queue_bind(names.queue("nq"),
                                                          names.exchange("nx"), "k"),
            "exchange bind, both missing": lambda ch: ch.exchange_bind(
                names.exchange("nd"), names.exchange("ns"), "k"),
            "exchange bind, destination missing": lambda ch: ch.exchange_bind(
                names.exchange("nd2"), x, "k"),
            "unbind missing queue": lambda ch: ch.queue_unbind(names.queue("nq2"), x, "k"),
            "unbind missing exchange": lambda ch: ch.queue_unbind(q, names.exchange("nx2")),
            "unbind missing binding": lambda ch: ch.queue_unbind(q, x, "nothere"),
            "unbind from default": lambda ch: ch.queue_unbind(q, "", q),
            "exchange unbind, missing": lambda ch: ch.exchange_unbind(
                names.exchange("nd3"), names.exchange("ns3"), "k"),
            "bind another's exclusive queue": lambda ch: ch.queue_bind(excl, x, "k"),
            "bind it with a bad x-match": lambda ch: ch.queue_bind(
                excl, "amq.headers", arguments={"x-match": "bad"}),
            "unbind it, no such binding": lambda ch: ch.queue_unbind(excl, x, "k"),
            "unbind it, bound": lambda ch: ch.queue_unbind(excl, x, "bound"),
        })

    check(scenario, amqp_url, names)


def test_names_lose_cr_and_lf(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        x, q = names.exchange("x"), names.queue("q")
        each_on_its_own_channel(w, {
            "declare exchange": lambda ch: ch.exchange_declare(x + "\r\n", "fanout"),
            "passive exchange": lambda ch: ch.exchange_declare(x + "\n", passive=True),
            "declare queue": lambda ch: ch.queue_declare(q),
            "bind": lambda ch: ch.queue_bind(q + "\n", x + "\r"),
            "publish keeps them": lambda ch: ch.basic_publish(x + "\n", "", b"x"),
            "get keeps them": lambda ch: ch.basic_get(q + "\n"),
            "purge keeps them": lambda ch: ch.queue_purge(q + "\n"),
        })
        ch = w.channel()
        ch.basic_publish(x, "", b"routed")
        w.record("routed", w.get_all(ch, q))
        w.attempt("unbind", lambda: ch.queue_unbind(q + "\r", x + "\n"))
        ch.basic_publish(x, "", b"not routed")
        w.record("after unbind", w.get_all(ch, q))
        w.attempt("delete exchange", lambda: ch.exchange_delete("\n" + x))
        w.attempt("gone", lambda: w.channel().exchange_declare(x, passive=True))

    check(scenario, amqp_url, names)


def test_empty_queue_name_is_the_last_declared_queue(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        each_on_its_own_channel(w, {
            "consume": lambda ch: ch.basic_consume("", lambda *a: None),
            "get": lambda ch: ch.basic_get(""),
            "purge": lambda ch: ch.queue_purge(""),
            "delete": lambda ch: ch.queue_delete(""),
            "bind": lambda ch: ch.queue_bind("", "amq.direct", "k"),
            "unbind": lambda ch: ch.queue_unbind("", "amq.direct", "k"),
        })
        q, other = names.queue("q"), names.queue("other")
        ch = w.channel()
        ch.queue_declare(other)
        ch.queue_declare(q)
        ch.basic_publish("", q, b"m1")
        w.attempt("get", lambda: ch.basic_get("", auto_ack=True))
        w.attempt("bind, key defaults to the queue name", lambda: ch.queue_bind("", "amq.direct"))
        ch.basic_publish("amq.direct", q, b"m2")
        w.attempt("purge", lambda: ch.queue_purge(""))
        w.attempt("passive is not expanded", lambda: ch.queue_declare("", passive=True))
        ch = w.channel()
        ch.queue_declare(other, passive=True)
        w.attempt("a passive declare counts", lambda: ch.queue_delete(""))
        w.attempt("deleted", lambda: w.channel().queue_declare(other, passive=True))

    check(scenario, amqp_url, names)


def test_declaring_the_direct_reply_to_queue(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        each_on_its_own_channel(w, {
            "declare": lambda ch: ch.queue_declare("amq.rabbitmq.reply-to"),
            "passive": lambda ch: ch.queue_declare("amq.rabbitmq.reply-to", passive=True),
            "get": lambda ch: ch.basic_get("amq.rabbitmq.reply-to"),
            "declare a made-up reply queue": lambda ch: ch.queue_declare(
                "amq.rabbitmq.reply-to.abc", passive=True),
        })
        client, server = w.channel(), w.channel()
        client.basic_consume("amq.rabbitmq.reply-to", lambda *a: None, auto_ack=True)
        q = names.queue("rpc")
        server.queue_declare(q)
        client.basic_publish("", q, b"ping", pika.BasicProperties(
            reply_to="amq.rabbitmq.reply-to"))
        _, properties, _ = server.basic_get(q, auto_ack=True)
        w.attempt("the client's reply queue", lambda: server.queue_declare(
            properties.reply_to, passive=True))
        client.close()
        w.attempt("after its channel closed", lambda: server.queue_declare(
            properties.reply_to, passive=True))

    check(scenario, amqp_url, names)


def test_consumer_argument_validation(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        q = names.queue("q")
        w.channel().queue_declare(q)

        def consume(arguments: dict[str, Any]) -> Action:
            return lambda ch: ch.basic_consume(q, lambda *a: None, arguments=arguments)

        each_on_its_own_channel(w, {
            "priority str": consume({"x-priority": "5"}),
            "priority 64-bit": consume({"x-priority": 2**40}),
            "priority negative": consume({"x-priority": -5}),
            "priority bool": consume({"x-priority": True}),
            "priority void": consume({"x-priority": None}),
            "stream offset on a classic queue": consume({"x-stream-offset": "first"}),
            "cancel on failover str": consume({"x-cancel-on-ha-failover": "yes"}),
            "cancel on failover bool": consume({"x-cancel-on-ha-failover": True}),
            "unknown argument": consume({"x-foo": 1}),
        })

    check(scenario, amqp_url, names)


# -- basic.publish checks -----------------------------------------------------------------


def test_publish_property_checks(amqp_url: str, names: Names) -> None:
    expirations = ["0", "abc", "-1", "315360000000", "315360000001", "99999999999999999999",
                   "10abc", " 10", "10 ", "+10", "", "1e3", "1.5", "0010", "-0", "1_000"]
    headers: dict[str, Any] = {
        "CC string": {"CC": "somewhere"}, "CC bytes": {"CC": [b"somewhere"]},
        "BCC string": {"BCC": "somewhere"}, "CC void": {"CC": None}, "CC table": {"CC": {}},
    }

    def scenario(w: World) -> None:
        q = names.queue("q")
        w.channel().queue_declare(q)
        attempts: dict[str, Action] = {}
        for expiration in expirations:
            attempts[f"expiration {expiration!r}"] = lambda ch, e=expiration: ch.basic_publish(
                "", q, e.encode() or b"empty", pika.BasicProperties(expiration=e))
        for mode in (0, 1, 2, 3, 255):
            attempts[f"delivery mode {mode}"] = lambda ch, m=mode: ch.basic_publish(
                "", q, b"mode", pika.BasicProperties(delivery_mode=m))
        for label, value in headers.items():
            attempts[label] = lambda ch, h=value: ch.basic_publish(
                "", q, b"cc", pika.BasicProperties(headers=h))
        for label, action in attempts.items():
            ch = w.channel()
            w.attempt(label, lambda: action(ch))  # noqa: B023
            w.record(label + " open", ch.is_open)
        w.elapse(0.1)
        w.record("left", w.get_all(w.channel(), q))

    check(scenario, amqp_url, names)


def test_publish_checks_in_rabbitmqs_order(amqp_url: str, names: Names) -> None:
    def props(**kwargs: Any) -> Any:
        return pika.BasicProperties(**kwargs)

    cases = {
        "reply-to before user_id": props(reply_to="amq.rabbitmq.reply-to", user_id="mallory"),
        "user_id before expiration": props(user_id="mallory", expiration="abc"),
        "expiration before delivery mode": props(expiration="abc", delivery_mode=5),
        "CC before delivery mode": props(delivery_mode=5, headers={"CC": "x"}),
        "CC before BCC": props(headers={"BCC": "y", "CC": "x"}),
    }

    def scenario(w: World) -> None:
        q = names.queue()
        w.channel().queue_declare(q)
        for label, properties in cases.items():
            ch = w.channel()
            w.attempt(label, lambda: ch.basic_publish("", q, b"x", properties))  # noqa: B023

    check(scenario, amqp_url, names)


def test_cc_and_bcc_route_only_their_strings(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        a, b = names.queue("a"), names.queue("b")
        ch = w.channel()
        ch.queue_declare(a)
        ch.queue_declare(b)
        for label, headers in [("bytes", {"CC": [b.encode()]}), ("int", {"CC": [1, b]}),
                               ("nested", {"CC": [[b]]}), ("twice", {"CC": [a, a, b]}),
                               ("BCC", {"BCC": [b], "x": 1}), ("lower case", {"cc": [b]})]:
            ch.basic_publish("", a, label.encode(), pika.BasicProperties(headers=headers))
        for q in (a, b):
            got = []
            while True:
                method, properties, body = ch.basic_get(q, auto_ack=True)
                if method is None:
                    break
                got.append((body, properties.headers))
            w.record(q, got)

    check(scenario, amqp_url, names)


# -- dead-lettering -------------------------------------------------------------------------


def _death_summary(properties: Any) -> Any:
    headers = properties.headers or {}
    return (list(headers), [(d["queue"], d["reason"], d["count"], list(d))
                            for d in headers.get("x-death", [])])


def test_x_death_history_through_a_chain_of_queues(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        queues = [names.queue(f"q{i}") for i in range(5)]
        for here, there in itertools.pairwise(queues):
            ch.queue_declare(here, arguments={"x-dead-letter-exchange": "",
                                              "x-dead-letter-routing-key": there})
        ch.queue_declare(queues[-1])
        ch.basic_publish("", queues[0], b"m", pika.BasicProperties(
            headers={"z": 1, "a": 2, "CC": ["nowhere"]}, expiration="60000"))
        for i, q in enumerate(queues[:-1]):
            method, properties, _ = w.get_eventually(ch, q)
            w.record(f"in {i}", (_death_summary(properties), properties.expiration))
            ch.basic_reject(method.delivery_tag, requeue=False)
        _, properties, _ = w.get_eventually(ch, queues[-1], auto_ack=True)
        w.record("at the end", properties.headers)
        ch.basic_publish("", queues[1], b"again", pika.BasicProperties(
            headers=properties.headers))
        for q in queues[1:-1]:
            method, _, _ = w.get_eventually(ch, q)
            ch.basic_reject(method.delivery_tag, requeue=False)
        _, properties, _ = w.get_eventually(ch, queues[-1], auto_ack=True)
        w.record("second round", _death_summary(properties))

    check(scenario, amqp_url, names)


def test_dead_lettering_keeps_cc_without_a_routing_key(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        dlx = names.exchange("dlx")
        ch.exchange_declare(dlx, "topic")
        a, b, dead = names.queue("a"), names.queue("b"), names.queue("dead")
        ch.queue_declare(a, arguments={"x-dead-letter-exchange": dlx, "x-message-ttl": 100})
        ch.queue_declare(b, arguments={"x-dead-letter-exchange": dlx,
                                       "x-dead-letter-routing-key": "to.dead"})
        ch.queue_declare(dead)
        ch.queue_bind(b, dlx, "rk.#")
        ch.queue_bind(dead, dlx, "to.dead")
        ch.basic_publish("", a, b"m", pika.BasicProperties(
            headers={"CC": ["rk.cc"], "BCC": ["rk.bcc"]}, expiration="50000", priority=3,
            delivery_mode=2))
        w.elapse(0.4)
        for q in (b, dead):
            method, properties, body = w.get_eventually(ch, q)
            w.record(q, (method, properties, body))
            if method is not None:
                ch.basic_reject(method.delivery_tag, requeue=False)

    check(scenario, amqp_url, names)


def test_bcc_keys_stay_with_a_dead_lettered_message(amqp_url: str, names: Names) -> None:
    # BCC keys leave the headers but stay among the message's routing keys: x-death does
    # not list them, yet a dead-letter exchange without a dead-letter routing key routes by
    # them
    def scenario(w: World) -> None:
        ch = w.channel()
        dlx = names.exchange("dlx")
        ch.exchange_declare(dlx, "direct")
        caught = {key: names.queue(f"caught-{key}") for key in ("main", "cc", "bcc")}
        for key, queue in caught.items():
            ch.queue_declare(queue)
            ch.queue_bind(queue, dlx, key)
        for dlrk in (None, "main"):
            source = names.queue(f"source-{dlrk}")
            arguments: dict[str, Any] = {"x-dead-letter-exchange": dlx}
            if dlrk is not None:
                arguments["x-dead-letter-routing-key"] = dlrk
            ch.queue_declare(source, arguments=arguments)
            ch.basic_publish("", source, b"m", pika.BasicProperties(
                headers={"CC": ["cc"], "BCC": ["bcc"]}))
            method, properties, _ = ch.basic_get(source)
            w.record("headers at the consumer", sorted(properties.headers))
            ch.basic_reject(method.delivery_tag, requeue=False)
            for key, queue in caught.items():
                got = w.get_eventually(ch, queue, auto_ack=True, timeout=1.0)
                if got[0] is not None:
                    death = got[1].headers["x-death"][0]
                    w.record(f"{dlrk}: caught by {key}", (
                        got[0].routing_key, death["routing-keys"], sorted(got[1].headers)))
                else:
                    w.record(f"{dlrk}: caught by {key}", None)

    check(scenario, amqp_url, names)


# -- prefetch, expiry -----------------------------------------------------------------------


def test_per_consumer_qos_lifts_the_channel_limit(amqp_url: str, names: Names) -> None:
    orders: list[list[Any]] = [
        [(3, True), (2, False), "a", "b"],
        [(2, False), (3, True), "a", "b"],
        [(3, True), "a", (1, False), "b"],
        [(3, True), (0, True), "a", "b"],
        [(1, False), "a", (3, True), "b", (0, False)],
    ]

    def scenario(w: World) -> None:
        for n, order in enumerate(orders):
            connection = w.connect()
            ch = connection.channel()
            ch.confirm_delivery()
            queues = {"a": names.queue(f"a{n}"), "b": names.queue(f"b{n}")}
            for label, q in queues.items():
                ch.queue_declare(q)
                for i in range(6):
                    ch.basic_publish("", q, f"{label}{i}".encode())
            got: list[bytes] = []
            for step in order:
                if isinstance(step, str):
                    ch.basic_consume(queues[step], lambda c, m, p, b: got.append(b))  # noqa: B023
                else:
                    ch.basic_qos(prefetch_count=step[0], global_qos=step[1])
                w.settle(connection)
                w.record(f"{n}: {step}", len(got))
            connection.close()

    check(scenario, amqp_url, names)


def test_expired_messages_a_fetch_uncovers_are_dropped(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        q = names.queue()
        ch.queue_declare(q)
        ch.basic_publish("", q, b"long", pika.BasicProperties(expiration="60000"))
        ch.basic_publish("", q, b"short", pika.BasicProperties(expiration="100"))
        ch.basic_publish("", q, b"short too", pika.BasicProperties(expiration="100"))
        w.elapse(0.3)
        w.attempt("before", lambda: ch.queue_declare(q, passive=True))
        method, _, body = ch.basic_get(q)
        w.record("get", (method, body))
        w.attempt("after", lambda: ch.queue_declare(q, passive=True))

    check(scenario, amqp_url, names)


def test_a_passive_declare_restarts_queue_expiry(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        passive, published = names.queue("passive"), names.queue("published")
        for q in (passive, published):
            ch.queue_declare(q, arguments={"x-expires": 600})
        w.elapse(0.4)
        ch.queue_declare(passive, passive=True)
        ch.basic_publish("", published, b"x")
        w.elapse(0.4)
        w.attempt("after a passive declare", lambda: w.channel().queue_declare(
            passive, passive=True))
        w.attempt("after a publish", lambda: w.channel().queue_declare(
            published, passive=True))

    check(scenario, amqp_url, names)


# -- direct reply-to --------------------------------------------------------------------------


def test_direct_reply_to_tags_and_mandatory_replies(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        connection = w.connect()
        client, server = connection.channel(), w.channel()
        q = names.queue("rpc")
        server.queue_declare(q)
        replies: list[Any] = []
        tag = client.basic_consume(
            "amq.rabbitmq.reply-to", auto_ack=True, on_message_callback=lambda c, m, p, b:
            replies.append((m.routing_key, m.exchange, m.redelivered, m.delivery_tag,
                            p.reply_to, b)))
        client.basic_publish("", q, b"ping", pika.BasicProperties(
            reply_to="amq.rabbitmq.reply-to"))
        _, properties, _ = server.basic_get(q, auto_ack=True)
        token = properties.reply_to
        w.attempt("through amq.direct", lambda: server.basic_publish(
            "amq.direct", token, b"via amq.direct", mandatory=True))
        w.attempt("mandatory reply", lambda: server.basic_publish(
            "", token, b"pong", mandatory=True))
        w.attempt("reply", lambda: server.basic_publish("", token, b"pong again"))
        w.pump(connection, lambda: len(replies) >= 2)
        w.settle(connection)
        w.record("replies (one delivery tag for both)", replies)
        client.basic_cancel(tag)
        w.attempt("reply after cancel", lambda: server.basic_publish(
            "", token, b"late", mandatory=True))

    check(scenario, amqp_url, names)


def test_what_restarts_queue_expiry(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        queues = {k: names.queue(k) for k in ("closed", "empty get", "purged", "bound")}
        for q in queues.values():
            ch.queue_declare(q, arguments={"x-expires": 800})
        ch.basic_publish("", queues["closed"], b"m")
        holder = w.channel()
        w.elapse(0.3)
        holder.basic_get(queues["closed"])
        ch.basic_get(queues["empty get"])
        w.elapse(0.3)
        holder.close()  # a channel going away with unacked messages restarts it
        ch.queue_purge(queues["purged"])
        ch.queue_bind(queues["bound"], "amq.fanout")
        w.elapse(0.6)
        for label, q in queues.items():
            w.attempt(label, lambda: w.channel().queue_declare(q, passive=True))  # noqa: B023

    check(scenario, amqp_url, names)


# -- channels -------------------------------------------------------------------------------


def test_channel_numbers(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        connection = w.connect()
        channels = [connection.channel() for _ in range(3)]
        w.record("numbers", [c.channel_number for c in channels])
        channels[1].close()
        w.record("lowest free number again", connection.channel().channel_number)
        w.attempt("a chosen number", lambda: connection.channel(channel_number=7).channel_number)
        failed = connection.channel()
        w.attempt("a channel error", lambda: failed.queue_declare(names.queue("none"),
                                                                  passive=True))
        w.record("its number is free again", connection.channel().channel_number)
        w.attempt("a number in use", lambda: connection.channel(channel_number=1))
        w.attempt("then", lambda: connection.channel())

    check(scenario, amqp_url, names)
