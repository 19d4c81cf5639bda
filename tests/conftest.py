"""Shared fixtures: the ``transport`` fixture runs every contract test on every transport.

RabbitMQ comes from ``MSGBUS_TEST_AMQP_URL`` (``scripts/test`` starts a throwaway node and
sets it). Without it, tests marked ``rabbitmq`` skip loudly; with
``MSGBUS_REQUIRE_RABBITMQ=1`` they fail instead, and the run fails if none of them passed.
Tests marked ``cluster`` (a three-node cluster, ``MSGBUS_TEST_CLUSTER_URL``) are held to the
same rule.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from msgbus.clock import ManualClock
from msgbus.transport import Transport
from tests.support import Names, delete_on_server, rabbitmq_restarter

if TYPE_CHECKING:
    from transports.memory import Broker

REQUIRE_RABBITMQ = os.environ.get("MSGBUS_REQUIRE_RABBITMQ") == "1"
AMQP_URL = os.environ.get("MSGBUS_TEST_AMQP_URL", "")
NO_SERVER = (
    "NO RABBITMQ SERVER: set MSGBUS_TEST_AMQP_URL or run scripts/test, which starts one"
)

_rabbitmq_passed = 0


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if item.get_closest_marker("rabbitmq") is None and item.get_closest_marker("cluster") is None:
        return
    global _rabbitmq_passed
    if report.when == "call" and report.passed:
        _rabbitmq_passed += 1
    if report.skipped and REQUIRE_RABBITMQ:
        report.outcome = "failed"
        report.longrepr = (
            f"MSGBUS_REQUIRE_RABBITMQ=1 but this RabbitMQ test skipped: {report.longrepr}"
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if REQUIRE_RABBITMQ and _rabbitmq_passed == 0 and exitstatus == 0:
        session.exitstatus = 1
        print("\n!!! MSGBUS_REQUIRE_RABBITMQ=1 but no RabbitMQ test passed")


def pytest_report_header() -> str:
    if AMQP_URL:
        return "msgbus: RabbitMQ tests run against MSGBUS_TEST_AMQP_URL"
    return f"msgbus: {NO_SERVER}"


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """The URL of the RabbitMQ server under test."""
    if not AMQP_URL:
        if REQUIRE_RABBITMQ:
            pytest.fail(f"MSGBUS_REQUIRE_RABBITMQ=1: {NO_SERVER}")
        pytest.skip(NO_SERVER)
    return AMQP_URL


@pytest.fixture
def names(request: pytest.FixtureRequest) -> Iterator[Names]:
    """Unique queue and exchange names for this test, deleted from the server afterwards."""
    made = Names(request.node.name)
    yield made
    if AMQP_URL and made.used:
        delete_on_server(AMQP_URL, made)


@pytest.fixture
def clock(msgbus_clock: ManualClock) -> ManualClock:
    """The plugin's manual clock (``msgbus_clock``): the memory broker runs on it."""
    return msgbus_clock


TransportKind = str


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("rabbitmq", id="rabbitmq", marks=pytest.mark.rabbitmq),
    ]
)
def transport_kind(request: pytest.FixtureRequest) -> TransportKind:
    kind: str = request.param
    return kind


@pytest.fixture
def msgbus_url(msgbus_url: str | None, request: pytest.FixtureRequest) -> str | None:
    """Overrides the plugin's fixture (``msgbus_url`` here is the plugin's value): in a test
    that runs on every transport (it asks for ``transport_kind``, e.g. through ``transport``
    or ``connect``), the plugin's ``msgbus_connect``, ``msgbus_transport`` and
    ``msgbus_wait_idle`` use the broker of that kind; other tests get the plugin's own."""
    if "transport_kind" not in request.fixturenames:
        return msgbus_url
    if request.getfixturevalue("transport_kind") == "memory":
        return None
    url: str = request.getfixturevalue("amqp_url")
    return url


@pytest.fixture
def connect(transport_kind: TransportKind, msgbus_connect: Callable[[], Transport]
            ) -> Callable[[], Transport]:
    """Opens another connection (transport) to the same broker as ``transport``: the
    plugin's ``msgbus_connect``, which closes them all after the test."""
    return msgbus_connect


@pytest.fixture
def transport(transport_kind: TransportKind, msgbus_transport: Transport) -> Transport:
    """A transport of each kind: the contract suite runs on all of them."""
    return msgbus_transport


@pytest.fixture
def amqp_url_or_none(msgbus_url: str | None) -> str | None:
    """The server URL on the RabbitMQ parametrisation, None on memory."""
    return msgbus_url


@pytest.fixture
def restart(transport_kind: TransportKind, request: pytest.FixtureRequest
            ) -> Callable[[], None]:
    """Restart the broker: ``Broker.restart()`` on memory, stop_app/start_app on RabbitMQ."""
    if transport_kind == "memory":
        broker: Broker = request.getfixturevalue("msgbus_broker")
        return broker.restart
    return rabbitmq_restarter()


@pytest.fixture
def elapse(transport_kind: TransportKind, clock: ManualClock) -> Callable[[float], None]:
    """Let time pass: advances the manual clock on memory, sleeps on a real server."""
    if transport_kind == "memory":
        return clock.advance
    return time.sleep
