"""Helpers for tests: unique names, waiting on a transport, server-side clean-up,
restarting the RabbitMQ node."""

from __future__ import annotations

import itertools
import os
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from msgbus.transport import Transport

_counter = itertools.count()


class Names:
    """Unique names for one test, so tests never see each other's queues on a shared server."""

    def __init__(self, test_name: str) -> None:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", test_name).strip("-")[-60:]
        self.prefix = f"t{next(_counter)}-{slug}"
        self.queues: list[str] = []
        self.exchanges: list[str] = []

    @property
    def used(self) -> bool:
        return bool(self.queues or self.exchanges)

    def queue(self, label: str = "q") -> str:
        name = f"{self.prefix}.{label}"
        self.queues.append(name)
        return name

    def exchange(self, label: str = "x") -> str:
        name = f"{self.prefix}.{label}"
        self.exchanges.append(name)
        return name


def rabbitmq_restarter() -> Callable[[], None]:
    """What restarts the RabbitMQ node under test (stop_app, start_app), named by
    ``MSGBUS_TEST_RABBITMQ_NODE`` with its Erlang cookie under ``MSGBUS_TEST_RABBITMQ_HOME``;
    skips the test when they are not set."""
    node = os.environ.get("MSGBUS_TEST_RABBITMQ_NODE")
    home = os.environ.get("MSGBUS_TEST_RABBITMQ_HOME")
    if not node or not home:
        pytest.skip("restarting RabbitMQ needs the node started by scripts/test "
                    "(MSGBUS_TEST_RABBITMQ_NODE / MSGBUS_TEST_RABBITMQ_HOME)")
    ctl = ["/usr/lib/rabbitmq/bin/rabbitmqctl", "-n", node]
    env = {**os.environ, "HOME": home}

    def restart() -> None:
        for command in (["stop_app"], ["start_app"], ["await_startup"]):
            subprocess.run(ctl + command, env=env, check=True, capture_output=True,
                           timeout=120)

    return restart


def delete_on_server(url: str, names: Names) -> None:
    """Delete what a test declared on a real server (deleting what is gone is a no-op)."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for queue in names.queues:
            channel.queue_delete(queue)
        for exchange in names.exchanges:
            channel.exchange_delete(exchange)
    finally:
        connection.close()


def wait_until(
    transport: Transport, condition: Callable[[], bool], timeout: float = 10.0
) -> None:
    """Process events on ``transport`` until ``condition()`` holds; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        transport.process_events(0.05)


def drain_bodies(transport: Transport, queue: str) -> list[bytes]:
    """Take every ready message of ``queue`` with auto-ack ``get``; their bodies in order."""
    bodies = []
    while (delivery := transport.get(queue, auto_ack=True)) is not None:
        bodies.append(delivery.body)
    return bodies


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificates(folder: Path) -> None:
    """In ``folder``, with the openssl command: a CA (``ca.pem``), a server certificate for
    localhost/127.0.0.1 (``server.pem``, ``server.key``) and a client certificate
    (``client.pem``, ``client.key``)."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=msgbus-test-ca", "-keyout", "ca.key", "-out", "ca.pem", cwd=folder)
    (folder / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, extra in (("server", ["-extfile", "ext.cnf"]), ("client", [])):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=folder)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "1", "-out", f"{name}.pem", *extra, cwd=folder)
    for key in folder.glob("*.key"):
        key.chmod(0o644)  # a node may run as another user


RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
RABBITMQCTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def throwaway_node(base: Path, config: str, label: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A RabbitMQ node of its own, its data under ``base``, ``config`` its rabbitmq.conf (no
    plugins), started and stopped around the block: (node name, the environment rabbitmqctl
    needs to reach it)."""
    for sub in ("log", "mnesia"):
        (base / sub).mkdir(exist_ok=True)
    (base / "enabled_plugins").write_text("[].\n")
    (base / "rabbitmq.conf").write_text(config)
    node = f"msgbus-{label}-{os.getpid()}@localhost"
    env = {
        **os.environ, "HOME": str(base), "RABBITMQ_NODENAME": node,
        "RABBITMQ_DIST_PORT": str(free_port()), "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
        "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
    }
    subprocess.run([RABBITMQ_SERVER, "-detached"], env=env, check=True, capture_output=True,
                   timeout=60)
    try:
        deadline = time.monotonic() + 90
        while subprocess.run([RABBITMQCTL, "-n", node, "await_startup", "--timeout", "60"],
                             env=env, capture_output=True, timeout=90).returncode != 0:
            if time.monotonic() > deadline:
                pytest.fail(f"the node {node} did not start; log: {base / 'log'}")
            time.sleep(1)  # await_startup gives up at once until epmd knows the node
        yield node, env
    finally:
        subprocess.run([RABBITMQCTL, "-n", node, "stop"], env=env, capture_output=True,
                       timeout=60)
