"""Real AMQP 0-9-1 clients, end to end: every test here runs twice, against the RabbitMQ
server under test (``MSGBUS_TEST_AMQP_URL``, marked ``rabbitmq``) and against the embedded
server (``contrib.amqp_server.AmqpServer``) on a fresh broker of its own.

``server_url`` is the one fixture a test needs: the ``amqp://`` URL of the server of this
parametrisation. ``unique`` gives names that no other test uses on the shared server and
deletes the queues and exchanges so named afterwards (on RabbitMQ; the embedded broker
is thrown away with the test). ``restart_server`` and ``elapse`` restart the server and let
time pass for it, each in the way that works on that server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from tests.support import Names, delete_on_server

WAIT = 10.0  # seconds: the bound on every wait in these tests


@pytest.fixture(
    params=[
        pytest.param("rabbitmq", id="rabbitmq", marks=pytest.mark.rabbitmq),
        pytest.param("embedded", id="embedded"),
    ]
)
def server_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of RabbitMQ, or of the embedded server on this test's own broker (the
    plugin's ``msgbus_amqp_url``: a failing test's report shows that broker's state)."""
    if request.param == "rabbitmq":
        url: str = request.getfixturevalue("amqp_url")
        yield url
        return
    embedded: str = request.getfixturevalue("msgbus_amqp_url")
    yield embedded


@pytest.fixture
def restart_server(request: pytest.FixtureRequest, server_url: str) -> Callable[[], None]:
    """Restarts the server under test as a node restart does: stop_app / start_app on
    RabbitMQ (the node scripts/test started: skipped on any other), ``Broker.restart()``
    on the embedded server's broker."""
    if request.node.callspec.params.get("server_url") == "rabbitmq":
        from tests.support import rabbitmq_restarter

        return rabbitmq_restarter()
    restart: Callable[[], None] = request.getfixturevalue("msgbus_broker").restart
    return restart


@pytest.fixture
def elapse(request: pytest.FixtureRequest, server_url: str) -> Callable[[float], None]:
    """Lets time pass for the server: sleeps on RabbitMQ, advances the embedded server's
    broker clock (the plugin's ``msgbus_clock``, a manual one) on the embedded server."""
    if request.node.callspec.params.get("server_url") == "rabbitmq":
        return time.sleep
    advance: Callable[[float], None] = request.getfixturevalue("msgbus_clock").advance
    return advance


class Unique(Names):
    """Names for one test: ``unique("jobs")`` -> ``"t3-test-name.jobs"``."""

    def __call__(self, label: str = "q") -> str:
        return self.queue(label)


@pytest.fixture
def unique(request: pytest.FixtureRequest, server_url: str) -> Iterator[Unique]:
    """Names of this test's own, deleted on RabbitMQ after it."""
    made = Unique(request.node.name)
    yield made
    if request.node.callspec.params.get("server_url") == "rabbitmq" and made.used:
        delete_on_server(server_url, made)
