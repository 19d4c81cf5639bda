"""msgbus's pytest plugin (registered through the ``pytest11`` entry point ``msgbus``).

The entry point, :mod:`msgbus.pytest_entry`, loads this file by its path, without importing
the package ``contrib``: a project may have a ``contrib`` or ``transports`` package of its
own. So this module imports ``contrib`` and ``transports`` only inside fixtures and hooks
(and for type checking), never at module level.

Installing msgbus makes these fixtures available to every test suite; their names start
with ``msgbus_`` so they never clash with a project's own:

``msgbus_clock``
    a :class:`~msgbus.clock.ManualClock`: ``msgbus_clock.advance(30)`` instead of sleeping.
``msgbus_broker``
    a fresh in-process :class:`~transports.memory.Broker` for this test, on ``msgbus_clock``.
``msgbus_url``
    the server the suite runs against: ``None`` (the in-process broker) unless
    ``--msgbus-url URL`` is given or ``MSGBUS_TEST_URL`` is set.
``msgbus_connect`` / ``msgbus_transport``
    open transports (on ``msgbus_broker``, or on the server of ``msgbus_url``); all are
    closed after the test. The same test runs on both.
``msgbus_recorder``
    a :class:`Recorder` of the broker's events, to assert on what was published,
    delivered, acknowledged, rejected, dead-lettered or returned.
``msgbus_wait_idle``
    ``msgbus_wait_idle(*things)`` runs ``process_events`` on transports and processors
    until nothing is left to do.
``msgbus_amqp_server`` / ``msgbus_amqp_url``
    ``msgbus_broker`` served over AMQP 0-9-1 on a free port of 127.0.0.1, and its
    ``amqp://`` URL: give it to any client (pika, aio-pika, kombu, Celery, another
    language). The broker's recorder, views and failure report see what they did.
``msgbus_management``
    RabbitMQ's management HTTP API and web page on ``msgbus_broker`` (a
    :class:`~contrib.management.ManagementServer` on a free port: ``.url``), for tests
    that use HTTP tools; it lists the clients of ``msgbus_amqp_server`` when the test uses
    that too. Needs the ``management`` extra. Rates move with ``msgbus_clock``.

When a test that used ``msgbus_broker`` fails, its report shows the broker's queues,
exchanges, bindings, connections and channels.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from msgbus.clock import ManualClock
from msgbus.transport import Transport

if TYPE_CHECKING:
    from contrib.amqp_server import AmqpServer
    from contrib.management import ManagementServer
    from contrib.recorder import Recorder
    from transports.memory import Broker

__all__ = ["Pumpable", "WaitIdle"]

URL_VARIABLE = "MSGBUS_TEST_URL"
_BROKER = pytest.StashKey["Broker"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("msgbus")
    group.addoption(
        "--msgbus-url", dest="msgbus_url", default=None, metavar="URL",
        help=f"run msgbus_transport tests against this server (amqp://...) instead of the "
             f"in-process broker; the environment variable {URL_VARIABLE} does the same")


def pytest_report_header(config: pytest.Config) -> str | None:
    url = _configured_url(config)
    return f"msgbus: fixtures connect to {_redact(url)}" if url else None


def _configured_url(config: pytest.Config) -> str | None:
    url: str | None = config.getoption("msgbus_url") or os.environ.get(URL_VARIABLE) or None
    return url


def _redact(url: str) -> str:
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, _, _ = head.partition("://")
    return f"{scheme}://***@{tail}"


# -- fixtures -----------------------------------------------------------------------


@pytest.fixture
def msgbus_clock() -> ManualClock:
    """A clock that moves only when the test calls ``advance(seconds)``."""
    return ManualClock()


@pytest.fixture
def msgbus_broker(msgbus_clock: ManualClock, request: pytest.FixtureRequest) -> Broker:
    """A fresh in-process broker (``transports.memory.Broker``) on ``msgbus_clock``."""
    from transports.memory import Broker

    broker = Broker(clock=msgbus_clock, name=request.node.name)
    request.node.stash[_BROKER] = broker
    return broker


@pytest.fixture
def msgbus_url(request: pytest.FixtureRequest) -> str | None:
    """``--msgbus-url`` or ``MSGBUS_TEST_URL``; ``None`` means the in-process broker."""
    return _configured_url(request.config)


@pytest.fixture
def msgbus_connect(msgbus_url: str | None, request: pytest.FixtureRequest
                   ) -> Iterator[Callable[[], Transport]]:
    """Opens a transport per call, to the broker of this test; closes them all afterwards."""
    opened: list[Transport] = []
    if msgbus_url is None:
        from transports.memory import MemoryTransport

        broker = request.getfixturevalue("msgbus_broker")

        def make() -> Transport:
            transport = MemoryTransport(broker)
            opened.append(transport)
            return transport
    else:
        from msgbus.connect import connect

        url = msgbus_url

        def make() -> Transport:
            transport = connect(url)
            opened.append(transport)
            return transport

    yield make
    for transport in opened:
        if transport.is_open:
            transport.close()


@pytest.fixture
def msgbus_transport(msgbus_connect: Callable[[], Transport]) -> Transport:
    """A transport: the in-process broker, or the server given by ``--msgbus-url``."""
    return msgbus_connect()


@pytest.fixture
def msgbus_recorder(msgbus_url: str | None, request: pytest.FixtureRequest
                    ) -> Iterator[Recorder]:
    """Records ``msgbus_broker``'s events. On a real server (``--msgbus-url``) the test is
    skipped: what happens inside RabbitMQ cannot be observed from the client."""
    if msgbus_url is not None:
        pytest.skip("msgbus_recorder observes the in-process broker; it cannot see inside "
                    "the server given by --msgbus-url / MSGBUS_TEST_URL")
    from contrib.recorder import Recorder

    recorder = Recorder(request.getfixturevalue("msgbus_broker"))
    recorder.start()
    yield recorder
    recorder.stop()


@pytest.fixture
def msgbus_amqp_server(msgbus_broker: Broker) -> Iterator[AmqpServer]:
    """``msgbus_broker`` served over AMQP 0-9-1 (a background thread, a free port)."""
    from contrib.amqp_server import AmqpServer

    with AmqpServer(msgbus_broker, port=0) as server:
        yield server


@pytest.fixture
def msgbus_amqp_url(msgbus_amqp_server: AmqpServer) -> str:
    """The ``amqp://`` URL of ``msgbus_amqp_server``: this test's own broker, on the wire."""
    return msgbus_amqp_server.url


@pytest.fixture
def msgbus_management(msgbus_broker: Broker, request: pytest.FixtureRequest
                      ) -> Iterator[ManagementServer]:
    """RabbitMQ's management HTTP API on ``msgbus_broker`` (a background thread, a free
    port of 127.0.0.1; guest/guest or any user added to the broker)."""
    pytest.importorskip("aiohttp", reason="msgbus_management needs the management extra: "
                                          "pip install 'msgbus[management]'")
    from contrib.management import ManagementServer

    amqp = (request.getfixturevalue("msgbus_amqp_server")
            if "msgbus_amqp_server" in request.fixturenames else None)
    with ManagementServer(msgbus_broker, port=0, amqp=amqp) as server:
        yield server


class Pumpable(Protocol):
    """Anything with ``process_events``: a transport, a processor, a consumer."""

    def process_events(self, timeout: float | None = ...) -> Any: ...


class WaitIdle(Protocol):
    def __call__(self, *things: Pumpable, timeout: float = ...) -> None: ...


@pytest.fixture
def msgbus_wait_idle(msgbus_url: str | None, request: pytest.FixtureRequest) -> WaitIdle:
    """``msgbus_wait_idle(*things, timeout=10.0)``: process events on ``things`` (transports,
    processors) until the broker is idle: a whole round caused no broker event and no
    connection has anything waiting for its client. On a real server, where idleness
    cannot be seen, it processes events until three rounds of 50 ms in a row handled
    nothing (a processor's ``process_events`` says how many messages it handled)."""
    if msgbus_url is not None:
        def settle(*things: Pumpable, timeout: float = 10.0) -> None:
            deadline = time.monotonic() + timeout
            quiet = 0
            while quiet < 3 and time.monotonic() < deadline:
                handled = [thing.process_events(0.05) for thing in things]
                quiet = 0 if any(isinstance(n, int) and n for n in handled) else quiet + 1
        return settle

    broker = request.getfixturevalue("msgbus_broker")

    def wait_idle(*things: Pumpable, timeout: float = 10.0) -> None:
        counter = _EventCounter()
        broker.add_listener(counter)
        try:
            deadline = time.monotonic() + timeout
            while True:
                before = counter.count
                for thing in things:
                    thing.process_events(0.0)
                if counter.count == before and not _pending(broker):
                    return
                if time.monotonic() > deadline:
                    from contrib.views import broker_state

                    raise AssertionError(
                        f"the broker was still busy after {timeout}s of processing events "
                        f"on {len(things)} object(s) (is every consumer's transport or "
                        f"processor among them?)\n{broker_state(broker)}")
        finally:
            broker.remove_listener(counter)

    return wait_idle


class _EventCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, event: object) -> None:
        self.count += 1


def _pending(broker: Broker) -> bool:
    """Does a connection of ``broker`` have something waiting for its client?"""
    return broker.has_pending_events()


# -- broker state in failure reports --------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not report.failed or call.when != "call":
        return
    broker = item.stash.get(_BROKER, None)
    if broker is None:
        return
    from contrib.views import broker_state

    report.sections.append(("msgbus broker state", broker_state(broker)))
