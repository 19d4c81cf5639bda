"""A Celery app over the wire (kombu and py-amqp underneath): a worker in a thread, tasks
sent with ``delay()``, their results fetched through the ``rpc://`` backend, a group and a
chain, and the worker answering a remote-control ping (a fanout exchange and replies)."""

from __future__ import annotations

import pytest
from celery import Celery, chain, group
from celery.contrib.testing.worker import start_worker

from tests.clients.conftest import WAIT, Unique


def _app(url: str, unique: Unique) -> Celery:
    app = Celery("clients", broker=url, backend="rpc://", set_as_current=False)
    queue = unique("celery")
    control = unique.exchange("control")  # remote control: its own "<name>.pidbox" exchanges
    unique.exchanges += [f"{control}.pidbox", f"reply.{control}.pidbox"]
    app.conf.update(
        control_exchange=control,
        task_default_queue=queue,
        task_default_exchange=unique.exchange("celery"),
        task_default_routing_key=queue,
        result_exchange=unique.exchange("results"),
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=False,
        broker_connection_timeout=WAIT,
        # the worker's event loop sleeps until its next timer, and the heartbeat timer is
        # the furthest: without it the loop sees the stop request within a second
        broker_heartbeat=0,
        task_serializer="json", result_serializer="json", accept_content=["json"])
    return app


def test_worker_runs_tasks_and_results_come_back(server_url: str, unique: Unique) -> None:
    app = _app(server_url, unique)

    @app.task(name="clients.add", shared=False)
    def add(x: int, y: int) -> int:
        return x + y

    @app.task(name="clients.fail", shared=False)
    def fail(text: str) -> None:
        raise ValueError(text)

    try:
        with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False,
                          loglevel="WARNING", shutdown_timeout=WAIT) as worker:
            result = add.delay(2, 3)
            assert result.get(timeout=WAIT) == 5
            assert result.successful()
            many = [add.delay(n, n) for n in range(10)]
            assert [r.get(timeout=WAIT) for r in many] == [n * 2 for n in range(10)]
            failed = fail.delay("bad input")
            with pytest.raises(ValueError, match="bad input"):
                failed.get(timeout=WAIT)
            assert failed.state == "FAILURE"
            assert group(add.s(n, 1) for n in range(3)).delay().get(timeout=WAIT) == [1, 2, 3]
            assert chain(add.s(1, 2), add.s(3)).delay().get(timeout=WAIT) == 6
            pong = app.control.ping(timeout=WAIT, limit=1)
            assert pong == [{worker.hostname: {"ok": "pong"}}]
    finally:
        app.backend.result_consumer.stop()  # the rpc backend's own connection
        app.close()
