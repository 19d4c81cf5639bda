"""PHP's php-amqplib (Debian's php-amqplib) over the wire: tests/clients/php/amqplib_e2e.php
publishes, consumes and acks (a nack requeues), waits for confirms (a nack from a full
queue), has a mandatory publish returned, makes a direct reply-to RPC, consumes under a
prefetch of 2, reads a passive declare's counts, sends header values of several types and
meets channel and connection errors; this test checks what it printed, the same on
RabbitMQ and on the embedded server."""

from __future__ import annotations

from typing import Any

import pytest

from tests.clients.conftest import Unique
from tests.clients.toolchain import (
    CAPABILITIES,
    DIRECT_REPLY_TO,
    PREFETCH,
    ROOT,
    delivered,
    interpreter,
    json_lines,
    run,
)

SCRIPT = ROOT / "tests" / "clients" / "php" / "amqplib_e2e.php"


@pytest.fixture(scope="session")
def php() -> str:
    probe = "require 'PhpAmqpLib/autoload.php'; new PhpAmqpLib\\Wire\\AMQPTable([]);"
    return interpreter("php", "-r", probe, what="PHP AMQP CLIENT: needs php and php-amqplib "
                       "(Debian's php-cli and php-amqplib)")


def _error(kind: str, code: int, message: str) -> dict[str, Any]:
    return {"class": f"PhpAmqpLib\\Exception\\{kind}", "code": code, "message": message}


def test_php_amqplib(server_url: str, unique: Unique, php: str) -> None:
    for label in ("work", "confirmed", "full", "rpc", "prefetch", "headers", "args"):
        unique(label)  # the script deletes them; this is in case it failed
    seen = json_lines(run([php, str(SCRIPT), server_url, unique.prefix]), unique.prefix)

    assert seen["connection"] == {
        "product": "RabbitMQ",
        "capabilities": CAPABILITIES}

    assert seen["publish-consume-ack"] == {
        "received": [delivered("php", 0, 1, False),
                     delivered("php", 1, 2, False),
                     delivered("php", 2, 3, False),
                     delivered("php", 0, 4, True)],
        "countsDuring": [0, 1], "countsAfter": [0, 0]}

    # each queue confirms on its own: RabbitMQ may confirm the full queue's publishes
    # before the other queue's, so the confirms are compared by message, not in order
    confirms = seen["confirms"]
    confirms["confirms"].sort(key=lambda confirm: confirm["body"])
    assert confirms == {
        "confirms": [{"body": "fits", "ack": True}]
        + [{"body": f"m{n}", "ack": True} for n in range(5)]
        + [{"body": "refused", "ack": False}],
        "get": {"body": "fits", "messageCount": 0}, "getEmpty": True, "queued": [5, 0]}

    assert seen["mandatory"] == {"events": [
        {"return": {"replyCode": 312, "replyText": "NO_ROUTE", "exchange": "",
                    "routingKeyIsTheQueue": True, "body": "lost",
                    "contentType": "text/plain", "headers": {"k": "v"}}},
        {"confirm": "ack"}]}

    assert seen["direct-reply-to"] == DIRECT_REPLY_TO

    assert seen["prefetch"] == PREFETCH

    assert seen["header-types"] == {"headers": {
        "array": 'array [1,"a",{"k":2}]', "big": "int 1099511627776",
        "false": "bool false", "float": 'string "1.5"', "int": "int 7", "neg": "int -3",
        "null": "null null", "string": 'string "café"', "table": 'array {"a":{"b":1}}',
        "true": "bool true"}}

    assert seen["channel-errors"] == {
        "passive": _error("AMQPProtocolChannelException", 404,
                          "NOT_FOUND - no queue 'P.missing' in vhost '/'"),
        "channelOpen": False,
        "bind": _error("AMQPProtocolChannelException", 404,
                       "NOT_FOUND - no exchange 'P.no-exchange' in vhost '/'"),
        "inequivalent": _error(
            "AMQPProtocolChannelException", 406,
            "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'P.args' in "
            "vhost '/': received '6' but current is '5'"),
        "connectionOpen": True}
    assert seen["closed"] == {"connected": False}
    assert seen["connection-error"] == {
        "error": _error("AMQPConnectionClosedException", 503,
                        "COMMAND_INVALID - unknown exchange type 'no-such-type'(40, 10)"),
        "connected": False}
