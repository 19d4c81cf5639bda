"""The ``msgbus demo`` command and the echo examples, on every transport."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from msgbus.cli import main

ROOT = Path(__file__).resolve().parents[2]
_brokers = itertools.count()


@pytest.fixture
def url(transport_kind: str, request: pytest.FixtureRequest) -> str:
    if transport_kind == "memory":
        return f"memory://app-demo-{next(_brokers)}"
    url: str = request.getfixturevalue("amqp_url")
    return url


def test_demo_command(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--url", url, "--delay", "0", "--jobs", "4"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert sum("worker-" in line and "<- resize image-" in line for line in lines) == 4
    assert {line.split()[1] for line in lines if "<- resize" in line} == {"worker-1", "worker-2"}
    assert sum("monitor" in line and "<- saw command 'resize'" in line for line in lines) == 4
    assert "<- 12 square pixels" in out and "<- 144 square pixels" in out
    assert "quit: stopped" in out
    assert lines[-1].endswith("done")


def test_demo_help_lists_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "demo" in capsys.readouterr().out


def _example(name: str, url: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "MSGBUS_URL"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), "--url", url],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_echo_basic(url: str) -> None:
    lines = _example("echo_basic.py", url)
    assert sorted(lines) == sorted([
        "sending: A test message", "sending: Another one",
        "received: A test message", "received: Another one",
    ])


def test_echo_fanout(url: str) -> None:
    lines = _example("echo_fanout.py", url)
    received = [line for line in lines if " received: " in line]
    round_robin = [line for line in received if "round robin" in line]
    assert len(round_robin) == 2
    assert {line.split()[-1] for line in round_robin} == {"1", "2"}
    assert sorted(line for line in received if "fanout" in line) == [
        "receiver-1 received: fanout message", "receiver-2 received: fanout message",
    ]
    fingerprints = [line for line in lines if "fingerprint: echo_send pid" in line]
    assert len(fingerprints) == 4


def test_echo_rpc(url: str) -> None:
    lines = _example("echo_rpc.py", url)
    assert "received: RPC test message" in lines
    assert "reply: RPC message received" in lines


def test_scripts_demo_runs_on_the_embedded_broker() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MSGBUS_URL"}
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo"), "--delay", "0", "--jobs", "2"],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].endswith("done")
