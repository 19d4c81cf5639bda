"""The same pika program on RabbitMQ and on the memory facade (see pika_scenarios.py).
pika's client API itself: when the consume() generator starts and what its consumer's
cancels leave, basic_get's get-ok bookkeeping, timers and threadsafe callbacks, calls on a
closed connection, channel numbers, pika's own classes and argument checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.contrib.pika_scenarios import (
    World,
    check,
    normalise,
)
from tests.support import Names

pytestmark = pytest.mark.rabbitmq


# -- the consume() generator ---------------------------------------------------------------


def _outcome(w: World, label: str, action: Callable[[], Any]) -> Any:
    """Like ``World.attempt``, for any exception: pika raises some that are no AMQPError
    (``DuplicateGetOkCallback``, ``struct.error``); the class, args and text are recorded."""
    try:
        result = action()
    except Exception as error:  # noqa: BLE001 - what is raised is the observation
        w.record(label, ("raised", type(error).__name__, normalise(error.args), str(error)))
        return None
    w.record(label, result)
    return result


def test_consume_starts_on_the_first_next(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        q = names.queue()
        ch.queue_declare(q)
        missing = ch.consume(names.queue("missing"))
        w.record("nothing consumed yet", (ch.consumer_tags, ch.is_open))
        _outcome(w, "first next", lambda: next(missing))
        w.record("closed by the broker", ch.is_open)
        ch = w.channel()
        manual = ch.consume(q, inactivity_timeout=0.3)
        auto = ch.consume(q, auto_ack=True, inactivity_timeout=0.3)
        w.record("two generators, no consumer", ch.consumer_tags)
        _outcome(w, "the auto-ack one starts", lambda: next(auto))
        ch.basic_publish("", q, b"x")
        _outcome(w, "the other one's params differ", lambda: next(manual))
        _outcome(w, "the auto-ack one goes on", lambda: next(auto))
        late = ch.consume(q, inactivity_timeout=0.3)  # while the auto-ack one runs
        w.record("made beside a running generator", ch.consumer_tags)
        _outcome(w, "its params differ", lambda: next(late))
        _outcome(w, "cancel", ch.cancel)
        w.record("tags", ch.consumer_tags)

    check(scenario, amqp_url, names)


def test_a_generator_cancelled_by_the_broker_keeps_its_tag(amqp_url: str,
                                                            names: Names) -> None:
    def scenario(w: World) -> None:
        connection = w.connect()
        ch = connection.channel()
        q = names.queue()
        ch.queue_declare(q)
        cancels: list[Any] = []
        ch.add_on_cancel_callback(cancels.append)
        for i in range(2):
            ch.basic_publish("", q, b"%d" % i)
        messages = ch.consume(q, inactivity_timeout=0.5)
        w.record("first", next(messages)[2])
        w.channel().queue_delete(q)
        w.settle(connection, 0.5)
        w.record("rest", [body for _, _, body in messages])
        w.record("tags", ch.consumer_tags)
        w.record("cancel callbacks", cancels)
        _outcome(w, "cancel", ch.cancel)
        w.record("tags after cancel()", ch.consumer_tags)
        _outcome(w, "basic_cancel", lambda: ch.basic_cancel(ch.consumer_tags[0]))
        w.record("tags after basic_cancel", ch.consumer_tags)

    check(scenario, amqp_url, names)


def test_basic_cancel_of_the_generators_tag(amqp_url: str, names: Names) -> None:
    # what the generator already holds stays there; its cancel() requeues it
    def scenario(w: World) -> None:
        connection = w.connect()
        ch = connection.channel()
        q = names.queue()
        ch.queue_declare(q)
        for i in range(3):
            ch.basic_publish("", q, b"%d" % i)
        messages = ch.consume(q, inactivity_timeout=0.3, consumer_tag="gen")
        w.record("first", next(messages)[2])
        w.settle(connection)
        w.record("waiting", ch.get_waiting_message_count())
        _outcome(w, "basic_cancel", lambda: ch.basic_cancel("gen"))
        w.record("tags", ch.consumer_tags)
        w.record("still waiting", ch.get_waiting_message_count())
        method, _, body = next(messages)
        w.record("next", (method.delivery_tag, body))
        _outcome(w, "cancel", ch.cancel)
        w.record("after cancel", (ch.consumer_tags, ch.get_waiting_message_count()))
        other = connection.channel()
        w.settle(connection)
        w.record("requeued", w.get_all(other, q))

    check(scenario, amqp_url, names)


def test_a_negative_inactivity_timeout(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        q = names.queue()
        ch.queue_declare(q)
        _outcome(w, "zero", lambda: next(ch.consume(q, inactivity_timeout=0)))
        ch.cancel()
        _outcome(w, "negative", lambda: next(ch.consume(q, inactivity_timeout=-1)))
        w.record("open", (ch.is_open, ch.consumer_tags != []))
        _outcome(w, "cancel", ch.cancel)

    check(scenario, amqp_url, names)


# -- basic_get -----------------------------------------------------------------------------


def test_a_basic_get_that_raised_blocks_the_next_ones(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        connection = w.connect()
        q = names.queue()
        ch = connection.channel()
        ch.queue_declare(q)
        _outcome(w, "empty", lambda: ch.basic_get(q))
        _outcome(w, "empty again", lambda: ch.basic_get(q))
        ch = connection.channel()
        _outcome(w, "missing queue", lambda: ch.basic_get(names.queue("missing")))
        _outcome(w, "again", lambda: ch.basic_get(q))
        _outcome(w, "not a str", lambda: ch.basic_get(5))
        ch = connection.channel()
        ch.basic_publish(names.exchange("missing"), "k", b"x")
        _outcome(w, "after a failed publish", lambda: ch.basic_get(q))
        _outcome(w, "and again", lambda: ch.basic_get(q))
        for how in ("by the client", "by the broker"):
            other = w.connect()
            ch = other.channel()
            if how == "by the client":
                other.close()
            else:
                _outcome(w, "flow off", lambda: ch.flow(False))  # noqa: B023
            _outcome(w, f"connection closed {how}", lambda: ch.basic_get(q))  # noqa: B023
            _outcome(w, f"connection closed {how}, again",
                     lambda: ch.basic_get(q))  # noqa: B023
            _outcome(w, f"connection closed {how}, publish",
                     lambda: ch.basic_publish("", q, b"x"))  # noqa: B023

    check(scenario, amqp_url, names)


# -- timers and callbacks ------------------------------------------------------------------


def test_timer_and_callback_argument_checks(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        connection = w.connect()
        attempts: dict[str, Callable[[], Any]] = {
            "sleep -1": lambda: connection.sleep(-1),
            "call_later -1": lambda: connection.call_later(-1, lambda: None),
            "call_later str": lambda: connection.call_later("1", lambda: None),
            "call_later None": lambda: connection.call_later(1, None),
            "process_data_events -1": lambda: connection.process_data_events(-1),
            "process_data_events str": lambda: connection.process_data_events("1"),
            "remove_timeout int": lambda: connection.remove_timeout(12345),
            "remove_timeout None": lambda: connection.remove_timeout(None),
            "blocked callback None": lambda: connection.add_on_connection_blocked_callback(
                None),
            "unblocked callback None": lambda: (
                connection.add_on_connection_unblocked_callback(None)),
            "threadsafe None": lambda: connection.add_callback_threadsafe(None),
            "its turn comes": lambda: connection.process_data_events(0),
            "then": lambda: connection.process_data_events(0),
        }
        for label, action in attempts.items():
            _outcome(w, label, action)
        w.record("open", connection.is_open)

    check(scenario, amqp_url, names)


def test_due_timers_run_before_threadsafe_callbacks(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        connection = w.connect()
        fired: list[str] = []
        connection.add_callback_threadsafe(lambda: fired.append("threadsafe 1"))
        connection.call_later(0, lambda: fired.append("timer 1"))
        w.pump(connection, lambda: len(fired) == 2)
        connection.call_later(0, lambda: fired.append("timer 2"))
        connection.add_callback_threadsafe(lambda: fired.append("threadsafe 2"))
        removed = connection.call_later(0, lambda: fired.append("removed"))
        connection.remove_timeout(removed)
        w.pump(connection, lambda: len(fired) == 4)
        connection.remove_timeout(removed)  # again, once it is gone: nothing happens
        w.record("fired", fired)

    check(scenario, amqp_url, names)


def test_a_callback_that_raises_leaves_the_others_queued(amqp_url: str,
                                                         names: Names) -> None:
    def scenario(w: World) -> None:
        connection = w.connect()
        fired: list[int] = []

        def boom(n: int, error: Exception) -> None:
            fired.append(n)
            raise error

        connection.call_later(0, lambda: boom(1, KeyError("timer")))
        connection.call_later(0, lambda: fired.append(2))
        connection.add_callback_threadsafe(lambda: fired.append(3))
        connection.add_callback_threadsafe(lambda: boom(4, ZeroDivisionError("threadsafe")))
        connection.add_callback_threadsafe(lambda: fired.append(5))
        for i in range(3):
            _outcome(w, f"process_data_events {i}",
                     lambda: connection.process_data_events(0.2))
            w.record(f"fired {i}", list(fired))
        w.record("open", connection.is_open)

    check(scenario, amqp_url, names)


# -- a closed connection -------------------------------------------------------------------


def test_calls_on_a_closed_connection(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        for how in ("by the client", "by the broker"):
            connection = w.connect()
            ch = connection.channel()
            if how == "by the client":
                connection.close()
            else:
                _outcome(w, "flow off", lambda: ch.flow(False))  # noqa: B023
            attempts: dict[str, Callable[[], Any]] = {
                "close": connection.close,
                "channel": connection.channel,
                "process_data_events": connection.process_data_events,
                "process_data_events 0.1": lambda: connection.process_data_events(  # noqa: B023
                    0.1),
                "process_data_events None": lambda: connection.process_data_events(  # noqa: B023
                    None),
                "sleep": lambda: connection.sleep(0),  # noqa: B023
                "call_later": lambda: connection.call_later(1, lambda: None),  # noqa: B023
                "threadsafe": lambda: connection.add_callback_threadsafe(None),  # noqa: B023
                "update_secret": lambda: connection.update_secret("s", "r"),  # noqa: B023
                "channel close": ch.close,
                "channel declare": lambda: ch.queue_declare(names.queue()),  # noqa: B023
            }
            for label, action in attempts.items():
                _outcome(w, f"{how}: {label}", action)
            w.record(f"{how}: state", (ch.is_open, ch.is_closed, connection.is_open,
                                       connection.is_closed))

    check(scenario, amqp_url, names)


# -- channel numbers -----------------------------------------------------------------------


def test_channel_numbers_pika_cannot_use(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        connection = w.connect()
        for number in ("3", 2.0):
            _outcome(w, f"channel {number!r}", lambda: connection.channel(number))  # noqa: B023
        w.record("then", connection.channel().channel_number)
        for number in (-1, 65536):
            broken = w.connect()
            _outcome(w, f"channel {number}", lambda: broken.channel(number))  # noqa: B023
            w.record(f"after {number}", broken.channel().channel_number)
            # pika keeps the channel it could not open, and its close() trips over it
            _outcome(w, f"close after {number}", broken.close)
            w.record(f"open after {number}", broken.is_open)
            if w.real:  # let the server's connection go: drop pika's half-made channel
                del broken._impl._channels[number]
                broken.close()
            w.connections.remove(broken)

    check(scenario, amqp_url, names)


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


# -- pika's own classes and argument checks ------------------------------------------------


def test_connections_and_channels_are_pikas_classes(amqp_url: str, names: Names) -> None:
    import pika.adapters.blocking_connection as blocking

    def scenario(w: World) -> None:
        connection = w.connect()
        ch = connection.channel()
        w.record("isinstance", (isinstance(connection, blocking.BlockingConnection),
                                isinstance(ch, blocking.BlockingChannel)))

    check(scenario, amqp_url, names)


def test_update_secret_and_sleep_check_their_arguments(amqp_url: str, names: Names) -> None:
    # pika checks these with assert statements; the facade raises the same AssertionError
    # (same text) explicitly, so that neither pytest's assertion rewriting nor python -O
    # changes it
    def scenario(w: World) -> None:
        connection = w.connect()
        attempts: dict[str, Callable[[], Any]] = {
            "secret": lambda: connection.update_secret("guest", "renewed"),
            "secret not a string": lambda: connection.update_secret(5, "renewed"),
            "secret bytes": lambda: connection.update_secret(b"guest", "renewed"),
            "reason not a string": lambda: connection.update_secret("guest", 5),
            "reason too long": lambda: connection.update_secret("guest", "r" * 256),
            "sleep -1": lambda: connection.sleep(-1),
            "sleep -0.5": lambda: connection.sleep(-0.5),
            "sleep 0": lambda: connection.sleep(0),
        }
        for label, action in attempts.items():
            _outcome(w, label, action)
        w.record("open", connection.is_open)

    check(scenario, amqp_url, names)
