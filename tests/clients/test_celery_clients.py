"""A Celery app over the wire (kombu and py-amqp underneath): a worker in a thread, tasks
sent with ``delay()``, their results fetched through the ``rpc://`` backend."""

from __future__ import annotations

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker

from tests.clients.conftest import WAIT, Unique


def _app(url: str, unique: Unique) -> Celery:
    app = Celery("clients", broker=url, backend="rpc://", set_as_current=False)
    queue = unique("celery")
    app.conf.update(
        task_default_queue=queue,
        task_default_exchange=unique.exchange("celery"),
        task_default_routing_key=queue,
        result_exchange=unique.exchange("results"),
        worker_enable_remote_control=False,
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

    with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False,
                      loglevel="WARNING", shutdown_timeout=WAIT):
        result = add.delay(2, 3)
        assert result.get(timeout=WAIT) == 5
        assert result.successful()
        many = [add.delay(n, n) for n in range(10)]
        assert [r.get(timeout=WAIT) for r in many] == [n * 2 for n in range(10)]
        failed = fail.delay("bad input")
        with pytest.raises(ValueError, match="bad input"):
            failed.get(timeout=WAIT)
        assert failed.state == "FAILURE"
