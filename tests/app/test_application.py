"""GenericApplication on every transport: its queues and keys, groups, ping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msgbus import (
    Exchange,
    Fingerprint,
    GenericApplication,
    GenericApplicationProducer,
    MessageHandler,
    MessageResult,
)
from msgbus.clock import Clock
from msgbus.transport import Transport
from tests.app.conftest import make_exchange, pump, settle
from tests.support import Names

Connect = Callable[[], Transport]


def _world(
    connect: Connect, names: Names, clock: Clock
) -> tuple[str, dict[str, Any], GenericApplicationProducer]:
    x = make_exchange(names.exchange("apps"))
    name = f"{names.prefix}-svc"

    class App(GenericApplication):
        exchange_class = x

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.got: list[str] = []

        @MessageHandler("command", "hello")
        def hello(self, content: Any) -> None:
            self.got.append(content["parameters"]["args"][0])

    # pids of this test alone: an instance's own queue is named pid@host on the server
    pid = f"{names.prefix}.pid"
    apps = {
        "a": App(Fingerprint(name, pid=f"{pid}1", host="h1"), ["g"], transport=connect()),
        "b": App(Fingerprint(name, pid=f"{pid}2", host="h1"), ["g"], transport=connect()),
        "c": App(Fingerprint(name, pid=f"{pid}3", host="h2"), transport=connect()),
    }
    for app in apps.values():
        app.process_events()

    class Producer(GenericApplicationProducer):
        eks = [(x, "")]

    return name, apps, Producer(Fingerprint("ctl"), transport=connect(), clock=clock)


def _deliver(
    apps: dict[str, Any], producer: Any, key: str, count: int, kind: str
) -> dict[str, int]:
    for app in apps.values():
        app.got.clear()
    for i in range(count):
        producer.message_hello(f"{key}-{i}", _key=key)
    expected = count if key.endswith("/rr") else None

    def received() -> int:
        return sum(len(app.got) for app in apps.values())

    if expected is not None:
        pump(*apps.values(), until=lambda: received() == expected)
    settle(*apps.values(), transport_kind=kind)
    return {label: len(app.got) for label, app in apps.items()}


def test_application_queues_and_keys(connect: Connect, names: Names, app_clock: Clock,
                                     transport_kind: str) -> None:
    name, apps, producer = _world(connect, names, app_clock)
    a = apps["a"]
    assert (a.sid, a.hid, a.uid) == (name, f"{name}@h1", f"{a.pid}@h1")

    def deliver(key: str, count: int = 1) -> dict[str, int]:
        return _deliver(apps, producer, key, count, transport_kind)

    assert deliver(name) == {"a": 1, "b": 1, "c": 1}
    rr = deliver(f"{name}/rr", 6)
    assert sum(rr.values()) == 6 and sum(1 for n in rr.values() if n) >= 2
    assert deliver("@h1") == {"a": 1, "b": 1, "c": 0}
    assert deliver(f"{name}@h1") == {"a": 1, "b": 1, "c": 0}
    host_rr = deliver(f"{name}@h1/rr", 4)
    assert host_rr["c"] == 0 and host_rr["a"] + host_rr["b"] == 4
    assert deliver(apps["b"].uid) == {"a": 0, "b": 1, "c": 0}
    assert deliver(f"{name}@h2") == {"a": 0, "b": 0, "c": 1}


def test_groups_joined_and_left_at_run_time(connect: Connect, names: Names, app_clock: Clock,
                                            transport_kind: str) -> None:
    name, apps, producer = _world(connect, names, app_clock)

    def deliver(key: str, count: int = 1) -> dict[str, int]:
        return _deliver(apps, producer, key, count, transport_kind)

    assert deliver(f"{name}#g") == {"a": 1, "b": 1, "c": 0}
    group_rr = deliver(f"{name}#g/rr", 4)
    assert group_rr["c"] == 0 and group_rr["a"] + group_rr["b"] == 4

    producer.message_join_group("g", _key=apps["c"].uid)
    pump(*apps.values(), until=lambda: apps["c"].groups == ["g"])
    assert deliver(f"{name}#g") == {"a": 1, "b": 1, "c": 1}
    group_rr = deliver(f"{name}#g/rr", 9)
    assert sum(group_rr.values()) == 9 and group_rr["c"] > 0

    producer.message_leave_group("g", _key=apps["a"].uid)
    pump(*apps.values(), until=lambda: apps["a"].groups == [])
    assert deliver(f"{name}#g") == {"a": 0, "b": 1, "c": 1}
    group_rr = deliver(f"{name}#g/rr", 4)
    assert group_rr["a"] == 0 and group_rr["b"] + group_rr["c"] == 4


def test_ping_over_rpc(connect: Connect, names: Names, app_clock: Clock) -> None:
    name, apps, producer = _world(connect, names, app_clock)
    pending = producer.start_rpc_ping(_key=apps["b"].uid)
    pump(*apps.values(), until=lambda: apps["b"].handled >= 1)
    reply = pending.wait()
    assert isinstance(reply, MessageResult) and reply
    assert reply.value["name"] == name
    assert (reply.value["pid"], reply.value["host"]) == (apps["b"].pid, "h1")


def test_application_exchange_default(connect: Connect) -> None:
    assert issubclass(GenericApplication.exchange_class, Exchange)
    assert GenericApplication.exchange_class.name == "msgbus.application"
