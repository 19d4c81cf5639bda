"""rabbitmq-c (C) over the wire, through its command-line tools (Debian's amqp-tools):
amqp-declare-queue, amqp-publish (properties, headers, one message a line), amqp-get,
amqp-consume (a count, a prefetch, bound to an exchange) and amqp-delete-queue, with their
errors. What each tool exits with and prints must be the same on RabbitMQ and on the
embedded server; pika reads the properties that amqp-publish sent."""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import pika
import pytest

from tests.clients.conftest import WAIT, Unique
from tests.clients.toolchain import missing

TOOLS = ("amqp-declare-queue", "amqp-publish", "amqp-get", "amqp-consume",
         "amqp-delete-queue")
_GENERATED = re.compile(r"amq\.gen-[A-Za-z0-9_-]{22}")

Outcome = tuple[int, str, str]


@pytest.fixture(scope="session")
def amqp_tools() -> None:
    absent = [tool for tool in TOOLS if shutil.which(tool) is None]
    if absent:
        missing(f"RABBITMQ-C TOOLS: needs {', '.join(absent)} (Debian's amqp-tools)")


class Tools:
    """Runs the tools against ``url``; outcomes with the test's names read as ``P``."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix

    def command(self, tool: str, *args: str) -> list[str]:
        return [tool, f"--url={self.url}", *args]

    def outcome(self, returncode: int, out: str, err: str) -> Outcome:
        def plain(text: str) -> str:
            return _GENERATED.sub("amq.gen-*", text.replace(self.prefix, "P"))
        return returncode, plain(out), plain(err)

    def __call__(self, tool: str, *args: str, stdin: str | None = None) -> Outcome:
        done = subprocess.run(self.command(tool, *args), input=stdin, capture_output=True,
                              text=True, timeout=WAIT, check=False)
        return self.outcome(done.returncode, done.stdout, done.stderr)


def _consumers(url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        declared = connection.channel().queue_declare(queue, passive=True)
        count: int = declared.method.consumer_count
        return count
    except pika.exceptions.ChannelClosedByBroker:
        return 0  # not declared yet
    finally:
        connection.close()


def test_declare_publish_get_consume_delete(server_url: str, unique: Unique,
                                            amqp_tools: None) -> None:
    tools = Tools(server_url, unique.prefix)
    queue = unique("q")
    ok = (0, "", "")
    assert tools("amqp-declare-queue", "-q", queue) == (0, "P.q\n", "")
    assert tools("amqp-declare-queue", "-q", "") == (0, "amq.gen-*\n", "")
    assert tools("amqp-declare-queue", "-q", queue, "-d") == (
        1, "", "queue.declare: server channel error 406, message: PRECONDITION_FAILED - "
               "inequivalent arg 'durable' for queue 'P.q' in vhost '/': received 'true' "
               "but current is 'false'\n")

    with_properties = ("-r", queue, "-p", "-C", "text/plain", "-E", "gzip", "-t",
                       f"{unique.prefix}.reply", "-H", "k: v", "-H", "n: 1", "-b", "hello")
    assert tools("amqp-publish", *with_properties) == ok
    assert tools("amqp-publish", *with_properties) == ok
    connection = pika.BlockingConnection(pika.URLParameters(server_url))
    try:
        method, properties, body = connection.channel().basic_get(queue, auto_ack=True)
    finally:
        connection.close()
    assert (body, method.message_count, properties.content_type,
            properties.content_encoding, properties.delivery_mode, properties.reply_to,
            properties.headers) == (b"hello", 1, "text/plain", "gzip", 2,
                                    f"{unique.prefix}.reply", {"k": "v", "n": "1"})
    assert tools("amqp-get", "-q", queue) == (0, "hello", "")

    assert tools("amqp-publish", "-r", queue, "-l", stdin="a\nb\nc\nd\n") == ok
    assert tools("amqp-consume", "-q", queue, "-c", "3", "-p", "1", "--",
                 "sh", "-c", "cat; echo '|'") == (0, "a\n|\nb\n|\nc\n|\n", "")  # lines kept whole
    assert tools("amqp-get", "-q", queue) == (0, "d\n", "")
    assert tools("amqp-get", "-q", queue) == (2, "", "")  # empty
    assert tools("amqp-get", "-q", f"{unique.prefix}.missing") == (
        1, "", "basic.get: server channel error 404, message: NOT_FOUND - no queue "
               "'P.missing' in vhost '/'\n")
    assert tools("amqp-consume", "-q", f"{unique.prefix}.missing", "-c", "1", "cat") == (
        1, "", "basic.consume: server channel error 404, message: NOT_FOUND - no queue "
               "'P.missing' in vhost '/'\n")
    # a publish to a missing exchange: the channel error comes back when the tool closes
    assert tools("amqp-publish", "-e", f"{unique.prefix}.nox", "-r", "k", "-b", "x") == (
        1, "", "closing channel: server channel error 404, message: NOT_FOUND - no exchange "
               "'P.nox' in vhost '/'\n")

    assert tools("amqp-publish", "-r", queue, "-b", "x") == ok
    assert tools("amqp-delete-queue", "-q", queue, "--if-empty") == (
        1, "", "queue.delete: server channel error 406, message: PRECONDITION_FAILED - "
               "queue 'P.q' in vhost '/' not empty\n")
    assert tools("amqp-delete-queue", "-q", queue) == (0, "1\n", "")
    assert tools("amqp-delete-queue", "-q", queue) == (0, "0\n", "")  # gone: a no-op


def test_consume_bound_to_an_exchange(server_url: str, unique: Unique,
                                      amqp_tools: None) -> None:
    """amqp-consume -e declares the queue, binds it and consumes; what the topic routes to
    it is printed, the rest is not."""
    tools = Tools(server_url, unique.prefix)
    queue = unique("topic")
    consumer = subprocess.Popen(
        tools.command("amqp-consume", "-q", queue, "-e", "amq.topic", "-r", "c.*", "-c",
                      "2", "--", "sh", "-c", "cat; echo"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + WAIT
        while _consumers(server_url, queue) == 0:  # awaits the consumer, bounded
            if time.monotonic() > deadline or consumer.poll() is not None:
                raise AssertionError(f"amqp-consume did not start consuming from {queue}")
        for key, body in (("c.one", "one"), ("d.two", "two"), ("c.three", "three")):
            assert tools("amqp-publish", "-e", "amq.topic", "-r", key, "-b", body) == (
                0, "", "")
        out, err = consumer.communicate(timeout=WAIT)
    finally:
        if consumer.poll() is None:
            consumer.kill()
            consumer.communicate()
    assert tools.outcome(consumer.returncode, out, err) == (0, "one\nthree\n", "")
