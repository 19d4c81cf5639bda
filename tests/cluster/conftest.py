"""The three-node RabbitMQ cluster of ``scripts/test`` (``scripts/lib/cluster.sh``), driven
with ``rabbitmqctl``: stop a node and start it again, kill one, find a quorum queue's leader.

``MSGBUS_TEST_CLUSTER_URL`` lists the nodes' addresses, ``MSGBUS_TEST_CLUSTER_NODES`` their
names in the same order, ``MSGBUS_TEST_CLUSTER_HOME`` the HOME holding their cookie (and
``nodeN/start``, which starts node N again after a kill). Without them the tests skip — and
fail under ``MSGBUS_REQUIRE_RABBITMQ=1``.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from msgbus.recovery import ConnectionEvent, ConnectionState, RecoveryPolicy
from tests.support import Names, delete_on_server

CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
URL = os.environ.get("MSGBUS_TEST_CLUSTER_URL", "")
NODES = [n for n in os.environ.get("MSGBUS_TEST_CLUSTER_NODES", "").split(",") if n]
HOME = os.environ.get("MSGBUS_TEST_CLUSTER_HOME", "")
NO_CLUSTER = (
    "NO RABBITMQ CLUSTER: set MSGBUS_TEST_CLUSTER_URL, MSGBUS_TEST_CLUSTER_NODES and "
    "MSGBUS_TEST_CLUSTER_HOME, or run scripts/test, which starts a three-node cluster"
)
#: Patient enough to outlast a node's restart.
PATIENT = RecoveryPolicy(max_attempts=200, initial_delay=0.05, max_delay=0.25)
QUORUM = {"x-queue-type": "quorum"}


@dataclass(frozen=True)
class Node:
    """One node: its name, its AMQP address and its number (1, 2, 3)."""

    name: str
    address: str
    number: int

    @property
    def own_url(self) -> str:
        """A URL of this node alone."""
        return f"amqp://guest:guest@{self.address}/%2F"

    @property
    def redacted_url(self) -> str:
        """Its URL as ``ConnectionEvent.broker`` names a node (no password)."""
        return f"amqp://guest:***@{self.address}/%2F"


@dataclass
class Cluster:
    """The cluster under test; what a test stops or kills comes back at its end."""

    nodes: list[Node]
    down: set[Node] = field(default_factory=set)
    killed: set[Node] = field(default_factory=set)

    def url(self, *first: Node) -> str:
        """A URL of all the nodes, ``first`` ones first (a transport connects to the
        first that answers)."""
        order = [*first, *(n for n in self.nodes if n not in first)]
        return f"amqp://guest:guest@{','.join(n.address for n in order)}/%2F"

    def ctl(self, node: Node, *args: str) -> str:
        done = subprocess.run(
            [CTL, "-n", node.name, *args], env={**os.environ, "HOME": HOME},
            check=True, capture_output=True, text=True, timeout=120,
        )
        return done.stdout

    def up(self) -> list[Node]:
        return [n for n in self.nodes if n not in self.down]

    def stop(self, node: Node) -> None:
        """Stop the node's RabbitMQ (``stop_app``): its connections close with 320."""
        self.down.add(node)
        self.ctl(node, "stop_app")

    def start(self, node: Node) -> None:
        if node in self.killed:
            subprocess.run([str(Path(HOME) / f"node{node.number}" / "start")], check=True,
                           timeout=60)
            self.killed.discard(node)
            # await_startup gives up at once while epmd does not know the new VM yet
            for _ in range(120):
                try:
                    self.ctl(node, "await_startup", "--timeout", "120")
                    break
                except subprocess.CalledProcessError:
                    time.sleep(0.5)
        else:
            self.ctl(node, "start_app")
        self.ctl(node, "await_startup", "--timeout", "120")
        self.down.discard(node)

    def kill(self, node: Node) -> None:
        """End the node's Erlang VM at once, as a crash would (no graceful hand-over)."""
        self.down.add(node)
        self.killed.add(node)
        # the node dies before it can answer: rabbitmqctl reports an error, as expected
        subprocess.run(
            [CTL, "-n", node.name, "eval", "erlang:halt()."], env={**os.environ, "HOME": HOME},
            check=False, capture_output=True, timeout=60,
        )

    def leader(self, queue: str) -> Node:
        """The node that leads a quorum queue now."""
        listing = self.ctl(self.up()[0], "list_queues", "-q", "--no-table-headers",
                           "name", "leader")
        for line in listing.splitlines():
            name, _, leader = line.partition("\t")
            if name == queue:
                return self.node(leader.strip())
        raise LookupError(f"queue {queue!r} not in the listing: {listing!r}")

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise LookupError(f"no node named {name!r} in {[n.name for n in self.nodes]}")

    def reached(self, event: ConnectionEvent) -> Node:
        """The node a connection event names."""
        for n in self.nodes:
            if event.broker == n.redacted_url:
                return n
        raise LookupError(f"the event names no node of the cluster: {event.broker!r}")

    def path(self, recorder: Recorder) -> list[Node]:
        """The nodes a transport was connected to, in order, from its connection events
        (checked: each ``LOST`` names the node reached before it)."""
        path: list[Node] = []
        for event in recorder.events:
            node = self.reached(event)
            if event.state is ConnectionState.LOST:
                assert path and node == path[-1], f"lost {node} after {path}"
            elif (event.state in (ConnectionState.CONNECTED, ConnectionState.RECOVERED)
                  and (not path or node != path[-1])):
                path.append(node)
        return path

    def kill_channels(self, node: Node) -> None:
        """Kill every channel process on the node: their connections close with 541."""
        self.ctl(node, "eval", "[exit(P, kill) || P <- rabbit_channel:list_local()], ok.")

    def restore(self) -> None:
        for node in sorted(self.down, key=lambda n: n.number):
            self.start(node)


@pytest.fixture(scope="session")
def cluster_nodes() -> list[Node]:
    if not (URL and NODES and HOME):
        pytest.skip(NO_CLUSTER)
    addresses = URL.partition("@")[2].partition("/")[0].split(",")
    return [Node(name, address, number)
            for number, (name, address) in enumerate(zip(NODES, addresses, strict=True), 1)]


@pytest.fixture
def cluster(cluster_nodes: list[Node]) -> Iterator[Cluster]:
    """The cluster; every node stopped or killed by the test is started again after it."""
    running = Cluster(cluster_nodes)
    yield running
    running.restore()


@pytest.fixture
def cluster_names(request: pytest.FixtureRequest, cluster: Cluster) -> Iterator[Names]:
    """Unique names for this test, deleted from the cluster afterwards."""
    made = Names(request.node.name)
    yield made
    if made.used:
        cluster.restore()  # a queue whose node is down cannot be deleted
        delete_on_server(cluster.nodes[0].own_url, made)


@dataclass
class Recorder:
    """The connection events of a transport."""

    events: list[ConnectionEvent] = field(default_factory=list)

    def __call__(self, event: ConnectionEvent) -> None:
        self.events.append(event)

    def of(self, state: ConnectionState) -> list[ConnectionEvent]:
        return [e for e in self.events if e.state is state]
