"""RabbitMQ's own command-line tool, ``rabbitmqadmin`` (Debian's rabbitmq-server package
installs it), run against ``ManagementServer``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from contrib.management import ManagementServer
from transports.memory import Broker

REQUIRE = os.environ.get("MSGBUS_REQUIRE_RABBITMQ") == "1"


def _find() -> str | None:
    return shutil.which("rabbitmqadmin") or next(
        (path for path in ("/usr/bin/rabbitmqadmin", "/usr/sbin/rabbitmqadmin")
         if os.access(path, os.X_OK)), None)


@pytest.fixture
def admin(mgmt: ManagementServer) -> Callable[..., Any]:
    tool = _find()
    if tool is None:
        message = "rabbitmqadmin is missing (it comes with Debian's rabbitmq-server package)"
        if REQUIRE:
            pytest.fail(f"MSGBUS_REQUIRE_RABBITMQ=1: {message}")
        pytest.skip(message)

    def run(*args: str, raw: bool = False) -> Any:
        command = [tool, "-H", "127.0.0.1", "-P", str(mgmt.port), "-u", "guest", "-p", "guest"]
        if raw:
            command += ["-f", "raw_json"]
        done = subprocess.run([*command, *args], capture_output=True, text=True, timeout=60,
                              check=False)
        assert done.returncode == 0, f"rabbitmqadmin {' '.join(args)}: {done.stderr}"
        return json.loads(done.stdout) if raw else done.stdout

    return run


def test_rabbitmqadmin_declares_lists_publishes_gets_and_deletes(
        admin: Callable[..., Any], msgbus_broker: Broker) -> None:
    assert "declared" in admin("declare", "queue", "name=jobs", "durable=false")
    admin("declare", "exchange", "name=work", "type=topic")
    admin("declare", "binding", "source=work", "destination=jobs", "routing_key=job.*")
    assert [q["name"] for q in admin("list", "queues", raw=True)] == ["jobs"]
    assert "work" in [x["name"] for x in admin("list", "exchanges", raw=True)]
    bindings = admin("list", "bindings", raw=True)
    assert ("work", "jobs", "job.*") in [(b["source"], b["destination"], b["routing_key"])
                                         for b in bindings]
    assert "Message published" in admin("publish", "exchange=work", "routing_key=job.new",
                                        "payload=hello")
    admin("publish", "routing_key=jobs", "payload=direct")  # through amq.default
    queue = msgbus_broker.queue("jobs")
    assert queue is not None and queue.messages_ready == 2
    [first] = admin("get", "queue=jobs", "ackmode=ack_requeue_false", raw=True)
    assert (first["payload"], first["routing_key"], first["message_count"]) \
        == ("hello", "job.new", 1)
    table = admin("list", "queues", "name", "messages")
    assert "jobs" in table and "| 1 " in table
    admin("purge", "queue", "name=jobs")
    queue = msgbus_broker.queue("jobs")
    assert queue is not None and queue.messages == 0
    overview = admin("show", "overview", raw=True)
    assert overview[0]["rabbitmq_version"] == "3.10.8"
    admin("delete", "binding", "source=work", "destination_type=queue", "destination=jobs",
          "properties_key=job.%2A")
    assert [b for b in msgbus_broker.bindings() if b.source == "work"] == []
    admin("delete", "queue", "name=jobs")
    assert msgbus_broker.queue("jobs") is None
