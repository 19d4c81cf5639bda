"""What the tests of clients in other languages (Go, C, Ruby) share: where their builds go,
running a client program with a bound on its time, and what happens when a toolchain is
missing. ``scripts/test`` installs the toolchains (scripts/lib/other_clients.sh); without
one, a test skips loudly, and under ``MSGBUS_REQUIRE_RABBITMQ=1`` (CI) it fails instead."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.clients.conftest import WAIT

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "clients"
SETUP = "scripts/test installs it: scripts/lib/other_clients.sh"


def missing(what: str) -> NoReturn:
    """The toolchain ``what`` is not here: skip, or fail when CI requires every test."""
    message = f"NO {what} ({SETUP})"
    if os.environ.get("MSGBUS_REQUIRE_RABBITMQ") == "1":
        pytest.fail(f"MSGBUS_REQUIRE_RABBITMQ=1: {message}")
    pytest.skip(message)


def interpreter(program: str, *probe: str, what: str) -> str:
    """The path of ``program``, once ``program *probe`` (loading its AMQP library) exits 0;
    otherwise the toolchain is :func:`missing` (``what`` names it and its packages)."""
    path = shutil.which(program)
    if path is None or subprocess.run([path, *probe], capture_output=True, timeout=WAIT,
                                      check=False).returncode != 0:
        missing(what)
    return path


def run(command: list[str], *, env: dict[str, str] | None = None,
        input_text: str | None = None) -> str:
    """Run a client program; its standard output (it must exit 0 within the bound)."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=WAIT * 3,
                          env={**os.environ, **(env or {})}, input=input_text, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{command[0]} exited {done.returncode}:\n{done.stderr}")
    return done.stdout


def json_lines(output: str, prefix: str) -> dict[str, Any]:
    """JSON objects one a line, each with its ``scenario``, by scenario; the names the
    test made (``prefix``) read as ``P`` so that the expected values can be written out."""
    found: dict[str, Any] = {}
    for line in output.splitlines():
        report = json.loads(line.replace(prefix, "P"))
        found[report.pop("scenario")] = report
    return found


#: The capabilities every client reads from ``connection.start``, in the order they print.
CAPABILITIES = ["authentication_failure_close", "basic.nack", "connection.blocked",
                "consumer_cancel_notify", "consumer_priorities", "direct_reply_to",
                "exchange_exchange_bindings", "per_consumer_qos", "publisher_confirms"]


def delivered(client: str, n: int, tag: int, redelivered: bool) -> dict[str, Any]:
    """What a client program reports of message ``n`` of its publish-consume-ack scenario
    (published with every property; its consumer tag and app id name the client)."""
    return {"body": f"m{n}", "tag": tag, "redelivered": redelivered, "exchange": "",
            "routingKey": "P.work", "consumerTag": f"{client}-consumer",
            "contentType": "text/plain", "deliveryMode": 2, "priority": 3,
            "correlationId": f"c{n}", "messageId": f"id{n}", "type": "job",
            "appId": client, "timestamp": 1700000000 + n, "expiration": "60000",
            "headers": {"n": n}}

#: What a client program reports of its direct reply-to RPC ("2+3" answered "5").
DIRECT_REPLY_TO = {
    "requestReplyTo": True, "requestBody": "2+3", "replyBody": "5",
    "replyCorrelationId": "rpc-1", "replyExchange": "",
    "replyRoutingKeyIsTheReplyTo": True, "replyRedelivered": False}
#: What a client program reports of its prefetch scenario: five messages, prefetch 2, the
#: queue's ready and consumer counts at each step.
PREFETCH = {"steps": [
    {"received": ["p0", "p1"], "counts": [3, 1]},
    {"received": ["p2", "p3"], "counts": [1, 1]},
    {"received": ["p4"], "counts": [0, 1]}]}
