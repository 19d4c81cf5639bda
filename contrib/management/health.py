"""The node and its health: ``/api/aliveness-test/{vhost}``, ``/api/healthchecks/node``,
``/api/health/checks/...``, ``/api/nodes``, ``/api/cluster-name``, answered as a single
RabbitMQ 3.10 node answers them (monitoring tools and client libraries' management
wrappers call these first)."""

from __future__ import annotations

import os
import time
from typing import Any

from aiohttp import web

from contrib.explain import EXCHANGE_TYPES
from contrib.management import render
from contrib.management.actions import client
from contrib.management.api import CONTEXT, context, only_for, reply, vhost_of
from contrib.management.errors import bad_request, compact_json, not_found

__all__ = ["add_routes"]

ALIVENESS_QUEUE = "aliveness-test"
OK = {"status": "ok"}
STARTED = time.monotonic()


def _failed(body: dict[str, Any]) -> web.Response:
    """A failed health check: 503 with ``status: failed``, as RabbitMQ answers it."""
    return web.json_response({"status": "failed", **body}, dumps=compact_json, status=503)


async def aliveness_test(request: web.Request) -> web.Response:
    """Declare the queue ``aliveness-test`` in the vhost, publish ``test_message`` to it and
    get it back, as RabbitMQ does (the queue is left in place, as RabbitMQ leaves it)."""
    vhost = vhost_of(request)
    with client(request, vhost) as channel:
        channel.queue_declare(ALIVENESS_QUEUE)
        channel.basic_publish("", ALIVENESS_QUEUE, b"test_message")
        got = channel.basic_get(ALIVENESS_QUEUE, no_ack=True)
    if got is None:
        return _failed({"reason": "aliveness-test queue is empty"})
    return reply(request, OK)


async def node_healthcheck(request: web.Request) -> web.Response:
    node = request.match_info.get("node")
    if node is not None and node != render.NODE:
        raise not_found()
    return reply(request, OK)


async def always_ok(request: web.Request) -> web.Response:
    return reply(request, OK)


async def single_node(request: web.Request) -> web.Response:
    return reply(request, {"status": "ok", "reason": "single node cluster"})


def _listeners(request: web.Request) -> list[tuple[str, int]]:
    """(protocol, port) of what this process listens on."""
    found = [("http", request.url.port or 0)]
    amqp = request.app[CONTEXT].amqp
    if amqp is not None:
        found.append(("amqp", amqp.port))
    return found


async def port_listener(request: web.Request) -> web.Response:
    try:
        port = int(request.match_info["port"])
    except ValueError:
        raise bad_request("Invalid port") from None
    ports = sorted(p for _, p in _listeners(request))
    if port not in ports:
        return _failed({"reason": "No active listener", "missing": port, "ports": ports})
    return reply(request, {"status": "ok", "port": port})


async def protocol_listener(request: web.Request) -> web.Response:
    protocol = request.match_info["protocol"]
    protocols = [p for p, _ in _listeners(request)]
    if protocol not in protocols:
        return _failed({"reason": "No active listener", "missing": protocol,
                        "protocols": protocols})
    return reply(request, {"status": "ok", "protocol": protocol})


async def cluster_name(request: web.Request) -> web.Response:
    broker = context(request).broker
    return reply(request, {"name": broker.name or "msgbus"})


def _node_json(request: web.Request) -> dict[str, Any]:
    cpus = os.cpu_count() or 1
    return {
        "name": render.NODE, "type": "disc", "running": True, "being_drained": False,
        "partitions": [], "os_pid": str(os.getpid()), "processors": cpus,
        "uptime": int((time.monotonic() - STARTED) * 1000), "run_queue": 0,
        "rates_mode": "basic", "mem_alarm": False, "disk_free_alarm": False,
        "exchange_types": [{"name": kind, "description": f"AMQP {kind} exchange",
                            "enabled": True} for kind in EXCHANGE_TYPES],
        "auth_mechanisms": [
            {"name": "AMQPLAIN", "description": "QPid AMQPLAIN mechanism", "enabled": True},
            {"name": "PLAIN", "description": "SASL PLAIN authentication mechanism",
             "enabled": True}],
        "enabled_plugins": ["rabbitmq_management"],
        "contexts": [{"description": "msgbus management", "path": "/",
                      "port": str(request.url.port)}],
        "applications": [{"name": "rabbit", "description": "RabbitMQ",
                          "version": render.RABBITMQ_VERSION}],
        "log_files": [], "config_files": [], "net_ticktime": 60,
    }


async def nodes(request: web.Request) -> web.Response:
    return reply(request, [_node_json(request)])


async def node(request: web.Request) -> web.Response:
    if request.match_info["node"] != render.NODE:
        raise not_found()
    return reply(request, _node_json(request))


def add_routes(app: web.Application) -> None:
    get = app.router.add_get
    get("/api/aliveness-test/{vhost}", aliveness_test)
    get("/api/healthchecks/node", node_healthcheck)
    get("/api/healthchecks/node/", node_healthcheck)
    get("/api/healthchecks/node/{node}", node_healthcheck)
    for check in ("alarms", "local-alarms", "virtual-hosts",
                  "certificate-expiration/{within}/{unit}"):
        get(f"/api/health/checks/{check}", always_ok)
    for check in ("node-is-quorum-critical", "node-is-mirror-sync-critical"):
        get(f"/api/health/checks/{check}", single_node)
    get("/api/health/checks/port-listener/{port}", port_listener)
    get("/api/health/checks/protocol-listener/{protocol}", protocol_listener)
    get("/api/cluster-name", cluster_name)
    monitors_only = only_for("monitoring", "administrator", refusal="Not monitor user")
    get("/api/nodes", monitors_only(nodes))
    get("/api/nodes/{node}", monitors_only(node))
