"""Node.js's amqplib (from npm) over the wire: tests/clients/node/amqplib_e2e.js publishes on
a confirm channel (acks, and a nack from a full queue), consumes with prefetch and acks,
uses basic.get, meets a channel error, and sends field values as amqplib encodes them;
this test checks what it printed.
``scripts/test`` installs amqplib into build/node_clients (scripts/lib/node_clients.sh)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.clients.conftest import WAIT, Unique

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "clients" / "node" / "amqplib_e2e.js"
MODULES = ROOT / "build" / "node_clients" / "node_modules"


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (MODULES / "amqplib").is_dir():
        pytest.skip(f"NO NODE.JS AMQP CLIENT: needs node and amqplib in {MODULES} "
                    f"(scripts/test installs them: scripts/lib/node_clients.sh)")
    return node


def test_amqplib_publish_confirm_consume(server_url: str, unique: Unique) -> None:
    node = _node()
    prefix = unique.prefix
    for label in ("q", "full"):  # the script deletes them; this is in case it failed
        unique(label)
    done = subprocess.run(
        [node, str(SCRIPT), server_url, prefix], capture_output=True, text=True,
        timeout=WAIT * 2, env={**os.environ, "NODE_PATH": str(MODULES)}, check=False)
    assert done.returncode == 0, f"amqplib_e2e.js failed:\n{done.stderr}"
    report = json.loads(done.stdout)
    assert report["confirms"] == ["ack"] * 50
    assert report["full"] == ["ack", "nack"]
    assert report["received"] == [
        {"body": f"m{n}", "n": n, "contentType": "text/plain", "deliveryMode": 2,
         "redelivered": False} for n in range(50)]
    assert report["get"] == {"body": "fits", "messageCount": 0}
    assert report["getEmpty"] is False
    missing = f"{prefix}.missing"
    assert report["checkQueue"] == {
        "code": 404,
        "message": f"Operation failed: QueueDeclare; 404 (NOT-FOUND) with message "
                   f"\"NOT_FOUND - no queue '{missing}' in vhost '/'\""}
    assert report["channelError"] == {"code": 404}
    assert report["headers"] == {
        "int": 7, "big": 2**40, "neg": -3, "dbl": 1.5, "s": "café", "t": True, "n": None,
        "buf": [0, 255], "arr": [1, "a", {"k": 2}], "obj": {"a": {"b": 1}}, "f": 2.5,
        "short": 300}
    assert report["doubleTtl"] == {
        "code": 406,
        "message": "Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "
                   "\"PRECONDITION_FAILED - invalid arg 'x-message-ttl' for queue 'amq.gen-*' "
                   "in vhost '/': \"expected integer, got double\"\""}
