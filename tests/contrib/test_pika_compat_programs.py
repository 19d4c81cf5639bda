"""Unmodified pika programs (the RabbitMQ tutorials) run on the memory broker under
``patch()``, threads included."""

from __future__ import annotations

import contextlib
import io
import runpy
import threading
from pathlib import Path

import pika
import pika.adapters.blocking_connection

from contrib.pika_compat import BlockingConnection, patch
from transports.memory import Broker

PROGRAMS = Path(__file__).parent / "programs"


class _Output(io.StringIO):
    """stdout shared by threads."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            return super().write(text)


def test_patch_replaces_and_restores_pika_blocking_connection() -> None:
    original = pika.BlockingConnection
    broker = Broker()
    with patch(broker) as patched:
        assert patched is broker
        assert pika.BlockingConnection is not original
        assert pika.adapters.blocking_connection.BlockingConnection is pika.BlockingConnection
        connection = pika.BlockingConnection(pika.ConnectionParameters("localhost"))
        assert isinstance(connection, BlockingConnection)
        connection.channel().queue_declare("made-under-patch")
        connection.close()
    assert pika.BlockingConnection is original
    assert pika.adapters.blocking_connection.BlockingConnection is original
    assert [q.name for q in broker.queues()] == ["made-under-patch"]


def _broker_of(connection: BlockingConnection) -> Broker:
    broker: Broker = connection.broker
    connection.close()
    return broker


def test_patches_that_exit_out_of_order_leave_pika_unpatched() -> None:
    original = pika.BlockingConnection
    first, second = Broker(), Broker()
    outer, inner = patch(first), patch(second)
    outer.__enter__()
    inner.__enter__()
    assert _broker_of(pika.BlockingConnection()) is second
    outer.__exit__(None, None, None)  # the older one exits first: the newer stays in effect
    assert _broker_of(pika.BlockingConnection()) is second
    inner.__exit__(None, None, None)
    assert pika.BlockingConnection is original
    assert pika.adapters.BlockingConnection is original
    assert pika.adapters.blocking_connection.BlockingConnection is original
    with patch(first):  # and patching again works as the first time
        assert _broker_of(pika.BlockingConnection()) is first
    assert pika.BlockingConnection is original


def test_hello_world_send_and_receive_in_threads() -> None:
    broker = Broker()
    output = _Output()
    with patch(broker), contextlib.redirect_stdout(output):
        receive = runpy.run_path(str(PROGRAMS / "receive.py"))  # defines main()
        receiver = threading.Thread(target=receive["main"])
        receiver.start()
        runpy.run_path(str(PROGRAMS / "send.py"), run_name="__main__")
        with BlockingConnection(broker=broker) as admin:
            channel = admin.channel()
            for _ in range(500):
                if " [x] Received b'Hello World!'" in output.getvalue():
                    break
                admin.sleep(0.01)
            # Deleting the queue cancels the receiver's consumer: start_consuming returns.
            channel.queue_delete("hello")
        receiver.join(10)
    assert not receiver.is_alive()
    lines = output.getvalue().splitlines()
    assert " [x] Sent 'Hello World!'" in lines
    assert " [x] Received b'Hello World!'" in lines
    assert " [*] Waiting for messages. To exit press CTRL+C" in lines


def test_threaded_workers_program() -> None:
    broker = Broker()
    output = _Output()
    with patch(broker), contextlib.redirect_stdout(output):
        runpy.run_path(str(PROGRAMS / "threaded_workers.py"), run_name="__main__")
    assert output.getvalue().startswith(" [x] 20 tasks done by ")
    (queue,) = broker.queues()
    assert (queue.name, queue.messages, queue.consumers) == ("task_queue", 0, 0)
