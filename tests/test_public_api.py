"""The promised public names stay put (ARCHITECTURE.md, "Names that are promised")."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

PROMISED = {
    "msgbus": {
        "connect", "Transport", "Fingerprint", "JsonEncoder", "Message", "MessageCommand",
        "RpcCommand", "MessageStatus", "MessageResult", "MessageResultError",
        "MessageResultException", "Exchange", "GenericProducer", "GenericConsumer",
        "MessageProcessor", "Handler", "MessageHandler", "MessageHandlerFullBody",
        "RpcHandler", "MessageFilter", "GenericApplication",
    },
    "transports.memory": {"Broker", "MemoryTransport"},
    "transports.rabbitmq": {"RabbitMQTransport"},
    "contrib.pika_compat": {"BlockingConnection", "patch"},
}


@pytest.mark.parametrize("module_name", sorted(PROMISED))
def test_promised_names_are_exported(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = set(module.__all__)
    assert PROMISED[module_name] <= exported
    for name in exported:
        assert hasattr(module, name), f"{module_name}.__all__ names missing {name}"


def test_promised_signatures() -> None:
    from contrib.pika_compat import BlockingConnection
    from transports.memory import Broker

    params = inspect.signature(BlockingConnection).parameters
    assert list(params)[:2] == ["parameters", "broker"]
    assert params["parameters"].default is None
    assert params["broker"].kind is inspect.Parameter.KEYWORD_ONLY
    assert callable(Broker().restart)


def test_core_package_imports_without_pika_or_transports() -> None:
    code = (
        "import sys, msgbus; "
        "bad = [m for m in sys.modules if m == 'pika' or m.startswith(('pika.', 'transports',"
        " 'contrib'))]; print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_importing_msgbus_loads_only_what_connect_and_the_errors_need() -> None:
    # ``import msgbus`` is the first thing every command and server process pays for; the
    # Transport ABC, the value types and the checks load when a transport is made
    code = (
        "import sys, msgbus; "
        "loaded = sorted(m for m in sys.modules if m.startswith('msgbus.')); print(loaded); "
        "sys.exit(0 if set(loaded) <= {'msgbus.connect', 'msgbus.errors', 'msgbus.lazy'}"
        " else 1)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert callable(__import__("msgbus").connect)


def test_recovery_names_belong_to_msgbus_and_stay_importable_from_rabbitmq() -> None:
    import msgbus
    import transports.rabbitmq as rabbitmq
    from transports.rabbitmq import events

    for name in ("ConnectionEvent", "ConnectionListener", "ConnectionState", "RecoveryPolicy"):
        assert name in msgbus.__all__
        assert getattr(rabbitmq, name) is getattr(msgbus, name)
        assert getattr(events, name) is getattr(msgbus, name)
