"""Ruby's Bunny (Debian's ruby-bunny) over the wire: tests/clients/ruby/bunny_e2e.rb
publishes, consumes and acks (a nack requeues), waits for confirms (a nack from a full
queue), has a mandatory publish returned, makes a direct reply-to RPC, consumes under a
prefetch of 2, reads a passive declare's counts, sends header values of several types,
commits and rolls back transactions, is told of a consumer cancelled by the server, meets an
exclusive queue and consumer, and meets channel and connection errors; this test checks
what it printed, the same on RabbitMQ and on the embedded server."""

from __future__ import annotations

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

SCRIPT = ROOT / "tests" / "clients" / "ruby" / "bunny_e2e.rb"


@pytest.fixture(scope="session")
def ruby() -> str:
    return interpreter("ruby", "-e", 'require "bunny"',
                       what="RUBY AMQP CLIENT: needs ruby and Bunny (Debian's ruby-bunny)")


def test_bunny(server_url: str, unique: Unique, ruby: str) -> None:
    for label in ("work", "confirmed", "full", "rpc", "prefetch", "headers", "args", "tx",
                  "cancelled"):
        unique(label)  # the script deletes them; this is in case it failed
    seen = json_lines(run([ruby, str(SCRIPT), server_url, unique.prefix]), unique.prefix)

    assert seen["connection"] == {
        "product": "RabbitMQ", "channelMax": 2047, "frameMax": 131072, "heartbeat": 60,
        "capabilities": CAPABILITIES}

    assert seen["publish-consume-ack"] == {
        "received": [delivered("ruby", 0, 1, False),
                     delivered("ruby", 1, 2, False),
                     delivered("ruby", 2, 3, False),
                     delivered("ruby", 0, 4, True)],
        "countsDuring": [0, 1], "countsAfter": [0, 0], "purged": 0, "deleted": 0}

    assert seen["confirms"] == {
        "allAcked": True, "fits": True, "refused": False, "nacked": [7], "nextSeqNo": 8,
        "get": {"body": "fits", "routingKey": "P.full"}, "queued": [5, 0]}

    assert seen["mandatory"] == {
        "return": {"replyCode": 312, "replyText": "NO_ROUTE", "exchange": "",
                   "routingKeyIsTheQueue": True, "body": "lost", "contentType": "text/plain",
                   "headers": {"k": "v"}},
        "acked": True}

    assert seen["direct-reply-to"] == DIRECT_REPLY_TO

    assert seen["prefetch"] == PREFETCH

    assert seen["header-types"] == {"headers": {
        "array": 'Array [1, "a", {"k"=>2}]', "big": "Integer 1099511627776",
        "false": "FalseClass false", "float": "Float 1.5", "int": "Integer 7",
        "neg": "Integer -3", "nil": "NilClass nil", "string": 'String "caf\\xC3\\xA9"',
        "table": 'Hash {"a"=>{"b"=>1}}', "time": "Integer 1700000000",
        "true": "TrueClass true"}}

    assert seen["transactions"] == {
        "afterRollback": [0, 0], "afterCommit": [1, 0], "got": "committed",
        "afterAckRolledBack": [0, 0],
        "again": {"body": "committed", "redelivered": True, "messageCount": 0}}
    assert seen["cancel-notification"] == {"tag": "ruby-cancelled", "deleted": 0,
                                           "consumers": 0}
    assert seen["exclusive"] == {
        "secondConsumer": {
            "class": "Bunny::AccessRefused",
            "message": "ACCESS_REFUSED - queue 'P.exclusive' in vhost '/' in exclusive use"},
        "fromOtherConnection": {
            "class": "Bunny::ResourceLocked",
            "message": "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue "
                       "'P.exclusive' in vhost '/'. It could be originally declared on "
                       "another connection or the exclusive property value does not match "
                       "that of the original declaration."}}

    assert seen["channel-errors"] == {
        "passive": {"class": "Bunny::NotFound",
                    "message": "NOT_FOUND - no queue 'P.missing' in vhost '/'"},
        "channelOpen": False,
        "bind": {"class": "Bunny::NotFound",
                 "message": "NOT_FOUND - no exchange 'P.no-exchange' in vhost '/'"},
        "inequivalent": {
            "class": "Bunny::PreconditionFailed",
            "message": "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue "
                       "'P.args' in vhost '/': received '6' but current is '5'"},
        "connectionOpen": True}
    assert seen["closed"] == {"closed": True}
    assert seen["connection-error"] == {"error": {
        "class": "Bunny::CommandInvalid",
        "message": "Connection-level error: COMMAND_INVALID - unknown exchange type "
                   "'no-such-type'"}}
