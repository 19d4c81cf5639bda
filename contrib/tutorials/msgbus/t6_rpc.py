"""Tutorial 6 — RPC, with msgbus's application layer.

The pika version builds RPC by hand (a ``reply_to`` queue, correlation ids). msgbus does
that part: a :class:`~msgbus.MessageProcessor` answers with an ``RpcHandler``, and a
:class:`~msgbus.GenericProducer` calls ``rpc_<name>(...)`` and waits for the result. The
server runs in its own thread (``start()``); the caller asks for three Fibonacci numbers.
Run with ``python t6_rpc.py`` (in-process), ``MSGBUS_URL=amqp://... python t6_rpc.py``
(RabbitMQ) or ``msgbus tutorial 6``.
"""

from __future__ import annotations

from typing import Any

from msgbus import (
    Exchange,
    Fingerprint,
    GenericProducer,
    MessageProcessor,
    MessageResult,
    RpcHandler,
)
from msgbus.handlers import ReplyFunction


class Maths(Exchange):
    name = "maths"
    exchange_type = "direct"
    durable = False


def fibonacci(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


class FibonacciServer(MessageProcessor):
    eqk = [(Maths, [({"name": "rpc_queue", "flags": {"auto_delete": True}}, "fibonacci")])]

    @RpcHandler("command", "fibonacci")
    def on_fibonacci(self, content: Any, reply: ReplyFunction) -> None:
        n = content["parameters"]["args"][0]
        reply(MessageResult(fibonacci(n)))


class Client(GenericProducer):
    eks = [(Maths, "fibonacci")]


# Without a transport, each opens its own with msgbus.connect() (MSGBUS_URL) and closes it.
server = FibonacciServer(Fingerprint("fibonacci", "server"))
server.start()
try:
    with Client(Fingerprint("tutorial", "client")) as client:
        for n in (1, 10, 30):
            print(f"asked fib({n})")
            reply = client.rpc_fibonacci(n, _timeout=10)
            print(f"got fib({n}) = {reply.value}")
finally:
    server.stop()
    server.close()
