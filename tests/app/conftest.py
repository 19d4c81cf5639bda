"""Helpers for the application-layer suite (runs on every transport)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from msgbus import Exchange, MessageProcessor
from msgbus.clock import Clock, ManualClock, SystemClock
from msgbus.transport import Transport


@pytest.fixture
def app_clock(transport_kind: str, clock: ManualClock) -> Clock:
    """The clock RPC callers read: the manual one on memory, the real one on RabbitMQ."""
    return clock if transport_kind == "memory" else SystemClock()


def make_exchange(name: str, exchange_type: str = "direct", **attrs: Any) -> type[Exchange]:
    """An Exchange subclass for a test (not durable, so a shared server forgets it)."""
    return type(
        f"Exchange_{name}",
        (Exchange,),
        {"name": name, "exchange_type": exchange_type, "durable": False, **attrs},
    )


Pumpable = MessageProcessor | Transport


def pump(*things: Pumpable, until: Callable[[], bool], timeout: float = 10.0) -> None:
    """Process events on every processor/transport until ``until()`` holds.

    On the memory transport everything is already there and this returns at once; on a
    real server it waits for the network (failing after ``timeout`` real seconds).
    """
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        for thing in things:
            thing.process_events(0.01)


def settle(*things: Pumpable, transport_kind: str, rounds: int = 5) -> None:
    """Let whatever is in flight arrive (nothing more is expected)."""
    for _ in range(rounds):
        for thing in things:
            thing.process_events(0.0 if transport_kind == "memory" else 0.05)
