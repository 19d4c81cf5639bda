"""What the tests of clients in other languages (Go, C, Ruby) share: where their builds go,
running a client program with a bound on its time, and what happens when a toolchain is
missing. ``scripts/test`` installs the toolchains (scripts/lib/other_clients.sh); without
one, a test skips loudly, and under ``MSGBUS_REQUIRE_RABBITMQ=1`` (CI) it fails instead."""

from __future__ import annotations

import json
import os
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
