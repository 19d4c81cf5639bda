"""RabbitMQ's Go client (amqp091-go, Debian's golang-github-rabbitmq-amqp091-go-dev) over the
wire: tests/clients/go/amqp_e2e.go publishes, consumes and acks (a nack requeues), uses
publisher confirms (a nack from a full queue), has a mandatory publish returned, makes a
direct reply-to RPC, meets channel and connection errors, consumes under a prefetch of 2,
reads a passive declare's counts, sends header values of every AMQP type, commits and rolls
back transactions, is told of a consumer cancelled by the server, meets an exclusive queue
and consumer, routes through an exchange-to-exchange binding to a headers exchange,
dead-letters a rejected message (x-death) and recovers; this test checks what it printed,
the same on RabbitMQ and on the embedded server.

The program is built once per session, offline, in GOPATH mode against the packaged
source (``GO111MODULE=off``, ``GOPATH=/usr/share/gocode``), into build/clients/go."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.clients.conftest import Unique
from tests.clients.toolchain import (
    BUILD,
    CAPABILITIES,
    PREFETCH,
    ROOT,
    delivered,
    json_lines,
    missing,
    run,
)

SOURCE = ROOT / "tests" / "clients" / "go" / "amqp_e2e.go"
GOPATH = Path("/usr/share/gocode")
AMQP091 = GOPATH / "src" / "github.com" / "rabbitmq" / "amqp091-go"


@pytest.fixture(scope="session")
def go_client() -> Path:
    go = shutil.which("go")
    if go is None or not AMQP091.is_dir():
        missing("GO AMQP CLIENT: needs go and amqp091-go (Debian's golang-go and "
                "golang-github-rabbitmq-amqp091-go-dev)")
    target = BUILD / "go" / "amqp_e2e"
    target.parent.mkdir(parents=True, exist_ok=True)
    run([go, "build", "-o", str(target), str(SOURCE)],
        env={"GO111MODULE": "off", "GOPATH": str(GOPATH), "GOFLAGS": "",
             "GOCACHE": str(BUILD / "go" / "cache")})
    return target


def _error(code: int, reason: str, *, server: bool = True) -> dict[str, Any]:
    return {"code": code, "reason": reason, "server": server, "recover": code < 500}


def test_amqp091_go(server_url: str, unique: Unique, go_client: Path) -> None:
    for label in ("work", "confirmed", "full", "rpc", "prefetch", "headers", "args", "tx",
                  "cancelled", "any", "all", "dl-work", "dl-dead", "recover"):
        unique(label)  # the program deletes them; this is in case it failed
    unique.exchange("front")
    unique.exchange("headers-x")
    seen = json_lines(run([str(go_client), server_url, unique.prefix]), unique.prefix)

    assert seen["connection"] == {
        "product": "RabbitMQ", "major": 0, "minor": 9, "channelMax": 2047,
        "frameSize": 131072, "heartbeat": 10,
        "capabilities": CAPABILITIES}

    assert seen["publish-consume-ack"] == {
        "received": [delivered("go", 0, 1, False),
                     {"body": "m1", "tag": 2, "redelivered": False},
                     delivered("go", 2, 3, False), delivered("go", 0, 4, True)],
        "countsDuring": [0, 1], "countsAfter": [0, 0], "deliveriesOpenAfterCancel": False,
        "purged": 0, "deleted": 0}

    assert seen["confirms"] == {
        "confirms": [{"tag": tag, "ack": tag != 7} for tag in range(1, 8)],
        "nextSeqNo": 8, "get": {"ok": True, "body": "fits", "messageCount": 0},
        "queued": [5, 0]}

    assert seen["mandatory"] == {
        "return": {"replyCode": 312, "replyText": "NO_ROUTE", "exchange": "",
                   "routingKeyIsTheQueue": True, "body": "lost", "contentType": "text/plain",
                   "headers": {"k": "v"}},
        "confirm": {"tag": 1, "ack": True}}

    assert seen["direct-reply-to"] == {
        "requestReplyTo": True, "requestBody": "2+3", "replyBody": "5",
        "replyCorrelationId": "rpc-1", "replyExchange": "",
        "replyRoutingKeyIsTheReplyTo": True, "replyRedelivered": False,
        "withoutConsumer": _error(
            406, "PRECONDITION_FAILED - fast reply consumer does not exist")}

    assert seen["prefetch"] == PREFETCH

    assert seen["header-types"] == {"headers": {
        "array": "[]interface {} [1 a map[k:2]]", "bool": "bool true",
        "bytes": "[]uint8 [0 255]", "decimal": "amqp091.Decimal {2 12345}",
        "float32": "float32 1.5", "float64": "float64 2.25", "int16": "int16 -300",
        "int32": "int32 70000", "int64": "int64 1099511627776", "int8": "int8 -8",
        "nil": "<nil> <nil>", "string": "string café",
        "table": "amqp091.Table map[a:map[b:1]]", "time": "int64 1700000000"}}

    assert seen["transactions"] == {
        "afterRollback": [0, 0], "afterCommit": [1, 0],
        "got": {"ok": True, "body": "committed"}, "afterAckRolledBack": [0, 0],
        "again": {"ok": True, "body": "committed", "redelivered": True}}
    assert seen["cancel-notification"] == {
        "tag": "go-cancelled", "deleted": 0, "deliveriesOpen": False}
    assert seen["exclusive"] == {
        "secondConsumer": _error(
            403, "ACCESS_REFUSED - queue 'P.exclusive' in vhost '/' in exclusive use"),
        "fromOtherConnection": _error(
            405, "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue "
                 "'P.exclusive' in vhost '/'. It could be originally declared on another "
                 "connection or the exclusive property value does not match that of the "
                 "original declaration.")}
    assert seen["routing"] == {"any": ["r0", "r1", "r2"], "all": ["r0"]}
    assert seen["dead-lettering"] == {
        "body": "doomed", "exchange": "", "routingKey": "P.dl-dead", "headerCount": 5,
        "headers": {"k": "v", "x-first-death-exchange": "",
                    "x-first-death-queue": "P.dl-work", "x-first-death-reason": "rejected"},
        "xDeath": [{"count": "int64 1", "exchange": "string ", "queue": "string P.dl-work",
                    "reason": "string rejected",
                    "routing-keys": "[]interface {} [P.dl-work]", "time": True}]}
    assert seen["recover"] == {"first": {"tag": 1, "redelivered": False},
                               "second": {"tag": 2, "redelivered": True, "body": "again"}}

    missing_queue = _error(404, "NOT_FOUND - no queue 'P.missing' in vhost '/'")
    assert seen["channel-errors"] == {
        "passive": missing_queue, "notified": missing_queue,
        "publishAfterwards": _error(504, "channel/connection is not open", server=False),
        "bind": _error(404, "NOT_FOUND - no exchange 'P.no-exchange' in vhost '/'"),
        "inequivalent": _error(
            406, "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'P.args' "
                 "in vhost '/': received '6' but current is '5'"),
        "unknownTag": _error(406, "PRECONDITION_FAILED - unknown delivery tag 99")}
    assert seen["closed"] == {"closed": "without error"}

    unknown_type = _error(503, "COMMAND_INVALID - unknown exchange type 'no-such-type'")
    assert seen["connection-error"] == {
        "declare": unknown_type, "connection": unknown_type, "isClosed": True}
