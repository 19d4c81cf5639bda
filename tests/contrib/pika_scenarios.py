"""Run one pika-API scenario on a real RabbitMQ and on the memory facade, and compare.

A scenario is a function of a :class:`World`: it opens connections with ``world.connect()``,
lets time pass with ``world.elapse(seconds)`` (sleep on RabbitMQ, a manual clock on
memory), and records what it observes with ``world.record`` / ``world.attempt``. What the
two runs record is normalised (server-generated names, timestamps) and must be equal.
"""

from __future__ import annotations

import contextlib
import datetime
import re
import struct
import time
from collections.abc import Callable
from typing import Any

import pika
import pika.exceptions
import pika.frame
import pika.spec

from msgbus.clock import ManualClock
from tests.support import Names, rabbitmq_restarter

Scenario = Callable[["World"], None]

_GENERATED = [
    (re.compile(r"amq\.gen-[A-Za-z0-9_\-]+"), "amq.gen-*"),
    (re.compile(r"amq\.rabbitmq\.reply-to\.[A-Za-z0-9_.=+/\-]+"), "amq.rabbitmq.reply-to.*"),
    (re.compile(r"amq\.ctag-[A-Za-z0-9_\-]+"), "amq.ctag-*"),
    (re.compile(r"ctag\d+\.[0-9a-f]{32}"), "ctag*"),
    (re.compile(r" port=\d+ "), " port=* "),
    (re.compile(r" at 0x[0-9a-f]+>"), " at 0x*>"),
]


def normalise(value: Any) -> Any:
    """A comparable, name-independent form of what a scenario observed."""
    if isinstance(value, str):
        for pattern, replacement in _GENERATED:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, (datetime.datetime, datetime.date)):
        return "<time>"
    if isinstance(value, pika.frame.Method):
        return normalise(value.method)
    if isinstance(value, pika.spec.BasicProperties):
        return ("props", normalise({k: v for k, v in vars(value).items() if v is not None}))
    if isinstance(value, pika.spec.amqp_object.Method):
        return (value.NAME, normalise(dict(vars(value))))
    if isinstance(value, dict):
        return {normalise(k): normalise(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return type(value)(normalise(v) for v in value)
    if isinstance(value, BaseException):
        return describe_error(value)
    return value


def describe_error(error: BaseException) -> Any:
    if isinstance(error, (pika.exceptions.ChannelClosed, pika.exceptions.ConnectionClosed)):
        return (type(error).__name__, error.reply_code, normalise(error.reply_text))
    if isinstance(error, (pika.exceptions.UnroutableError, pika.exceptions.NackError)):
        return (type(error).__name__, [
            (m.method.NAME, m.method.reply_code, m.method.reply_text, m.body)
            for m in error.messages])
    return (type(error).__name__, normalise(str(error)))


class World:
    """What a scenario gets: connections, time, unique names and a log."""

    def __init__(self, connect: Callable[[], Any], elapse: Callable[[float], None],
                 names: Names, real: bool, restart: Callable[[], None]) -> None:
        self._connect = connect
        self.elapse = elapse
        #: Restart the broker: the RabbitMQ node (the test skips without one to control),
        #: or ``Broker.restart()`` of the memory facade's broker.
        self.restart = restart
        self.names = names
        self.real = real
        self.log: list[Any] = []
        self.connections: list[Any] = []

    def connect(self) -> Any:
        connection = self._connect()
        self.connections.append(connection)
        return connection

    def channel(self, confirm: bool = True) -> Any:
        """A channel on a new connection (in confirm mode: publishes are settled when
        basic_publish returns, on RabbitMQ as on memory)."""
        channel = self.connect().channel()
        if confirm:
            channel.confirm_delivery()
        return channel

    def record(self, label: str, value: Any = None) -> None:
        self.log.append((label, normalise(value)))

    def attempt(self, label: str, action: Callable[[], Any]) -> Any:
        """Run ``action``; record its result or the error it raised."""
        try:
            result = action()
        except (pika.exceptions.AMQPError, TypeError, ValueError, AssertionError,
                AttributeError, struct.error) as error:
            self.record(label, ("raised", describe_error(error)))
            return None
        self.record(label, result)
        return result

    def get_all(self, channel: Any, queue: str, *, ack: bool = True) -> list[Any]:
        """basic_get until empty: (body, redelivered, message_count) per message."""
        seen = []
        while True:
            method, _properties, body = channel.basic_get(queue)
            if method is None:
                return seen
            seen.append((body, method.redelivered, method.message_count))
            if ack:
                channel.basic_ack(method.delivery_tag)

    def get_eventually(self, channel: Any, queue: str, *, auto_ack: bool = False,
                       timeout: float = 5.0) -> Any:
        """basic_get, retried for a while on RabbitMQ, where dead-lettering is asynchronous."""
        deadline = time.monotonic() + timeout
        while True:
            got = channel.basic_get(queue, auto_ack=auto_ack)
            if got[0] is not None or not self.real or time.monotonic() > deadline:
                return got
            time.sleep(0.02)

    def pump(self, connection: Any, until: Callable[[], bool], timeout: float = 5.0) -> None:
        """process_data_events until ``until()`` holds (or ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        connection.process_data_events(0)
        while not until() and time.monotonic() < deadline:
            connection.process_data_events(0.05)

    def settle(self, connection: Any, seconds: float = 0.3) -> None:
        """Give the broker time to send what it will (a real wait on RabbitMQ only: the
        whole of ``seconds``, as pika's ``process_data_events`` returns with the first
        frames that arrive)."""
        if not self.real:
            connection.process_data_events(0)
            return
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            connection.process_data_events(left)

    def close(self) -> None:
        for connection in self.connections:
            if connection.is_open:
                with contextlib.suppress(pika.exceptions.AMQPError):
                    connection.close()


def run_real(scenario: Scenario, amqp_url: str, names: Names) -> list[Any]:
    world = World(lambda: pika.BlockingConnection(pika.URLParameters(amqp_url)), time.sleep,
                  names, real=True, restart=lambda: rabbitmq_restarter()())
    try:
        scenario(world)
    finally:
        world.close()
    return world.log


def run_memory(scenario: Scenario, amqp_url: str, names: Names) -> list[Any]:
    from contrib.pika_compat import BlockingConnection
    from transports.memory import Broker

    clock = ManualClock()
    broker = Broker(clock=clock)

    def elapse(seconds: float) -> None:
        clock.advance(seconds)
        broker.tick()

    world = World(lambda: BlockingConnection(pika.URLParameters(amqp_url), broker=broker),
                  elapse, names, real=False, restart=broker.restart)
    try:
        scenario(world)
    finally:
        world.close()
    return world.log


def run_wire(scenario: Scenario, amqp_url: str, names: Names) -> list[Any]:
    """Real pika over a socket to the memory broker served by ``AmqpServer`` (its clock
    manual, as the facade's)."""
    from contrib.amqp_server import AmqpServer
    from transports.memory import Broker

    clock = ManualClock()
    broker = Broker(clock=clock)
    for vhost in ("/", *_vhosts_of(amqp_url)):
        broker.add_vhost(vhost)

    def elapse(seconds: float) -> None:
        clock.advance(seconds)
        broker.tick()
        time.sleep(min(seconds, 0.2))  # what is on the wire arrives meanwhile, as on RabbitMQ

    with AmqpServer(broker, port=0) as server:
        parameters = pika.URLParameters(amqp_url)
        parameters.port = server.port
        world = World(lambda: pika.BlockingConnection(parameters), elapse, names, real=True,
                      restart=broker.restart)
        try:
            scenario(world)
        finally:
            world.close()
    return world.log


def _vhosts_of(amqp_url: str) -> list[str]:
    return [pika.URLParameters(amqp_url).virtual_host]


def differential(scenario: Scenario, amqp_url: str, names: Names
                 ) -> tuple[list[Any], list[Any]]:
    """Run ``scenario`` on RabbitMQ, then on the memory facade: (memory log, real log)."""
    real = run_real(scenario, amqp_url, names)
    memory = run_memory(scenario, amqp_url, names)
    return memory, real


def check(scenario: Scenario, amqp_url: str, names: Names) -> None:
    """Run ``scenario`` on RabbitMQ, on the memory facade, and with real pika over the
    wire to the served memory broker; require the same observations of all three."""
    real = run_real(scenario, amqp_url, names)
    memory = run_memory(scenario, amqp_url, names)
    assert memory == real, "the pika facade differs from RabbitMQ"
    wire = run_wire(scenario, amqp_url, names)
    assert wire == real, ("pika over AMQP to the served broker differs from RabbitMQ: "
                          f"{_first_difference(wire, real)}")


def _first_difference(ours: list[Any], real: list[Any]) -> str:
    for index, (mine, theirs) in enumerate(zip(ours, real, strict=False)):
        if mine != theirs:
            return f"at step {index}: served broker {mine!r}, RabbitMQ {theirs!r}"
    return f"served broker recorded {len(ours)} steps, RabbitMQ {len(real)}"


# -- helpers for scenarios ----------------------------------------------------------------

#: Something to try on a channel.
Action = Callable[[Any], Any]


def each_on_its_own_channel(w: World, attempts: dict[str, Action]) -> None:
    """Run every attempt on a fresh channel; record its result and what stayed open."""
    for label, action in attempts.items():
        ch = w.channel(confirm=False)
        w.attempt(label, lambda: action(ch))  # noqa: B023
        w.record(label + " open", (ch.is_open, ch.connection.is_open))


def declare(names: Names, label: str, **kwargs: Any) -> Action:
    queue = names.queue(label)
    return lambda ch: ch.queue_declare(queue, **kwargs)
