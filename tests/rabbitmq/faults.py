"""Driving the throwaway RabbitMQ node of ``scripts/test`` for fault tests: ``rabbitmqctl``
(``MSGBUS_TEST_RABBITMQ_NODE`` and ``MSGBUS_TEST_RABBITMQ_HOME`` name it), and a recorder
of a transport's connection events."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field

from msgbus.values import DeliveryMode
from transports.rabbitmq import ConnectionEvent, ConnectionState, RecoveryPolicy

CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
NODE = os.environ.get("MSGBUS_TEST_RABBITMQ_NODE", "")
NODE_HOME = os.environ.get("MSGBUS_TEST_RABBITMQ_HOME", "")
PERSISTENT = DeliveryMode.PERSISTENT
#: Patient enough to outlast a node restart.
PATIENT = RecoveryPolicy(max_attempts=100, initial_delay=0.1, max_delay=0.5)


class Node:
    """The node under test, controlled with rabbitmqctl."""

    def ctl(self, *args: str) -> None:
        subprocess.run(
            [CTL, "-n", NODE, *args], env={**os.environ, "HOME": NODE_HOME},
            check=True, capture_output=True, timeout=60,
        )

    def close_all_connections(self) -> None:
        self.ctl("close_all_connections", "test")

    def restart(self) -> None:
        self.ctl("stop_app")
        self.ctl("start_app")
        self.ctl("await_startup")


@dataclass
class Recorder:
    events: list[ConnectionEvent] = field(default_factory=list)

    def __call__(self, event: ConnectionEvent) -> None:
        self.events.append(event)

    def states(self) -> list[ConnectionState]:
        return [e.state for e in self.events]
