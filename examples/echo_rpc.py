"""The RPC echo: the receiver answers every ``echo`` call with a result.

    python examples/echo_rpc.py                    # receiver and caller in one process
    python examples/echo_rpc.py receive --url amqp://guest:guest@localhost/%2F
    python examples/echo_rpc.py send --url amqp://guest:guest@localhost/%2F
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from echo_shared import EchoExchange, parse_args, say

import msgbus
from msgbus import GenericProducer, MessageProcessor, MessageResult, RpcHandler
from msgbus.handlers import ReplyFunction

RPC_QUEUE = {"name": "msgbus-echo.rpc", "flags": {"auto_delete": True}}


class EchoProducer(GenericProducer):
    eks = [(EchoExchange, "echo-rpc-rk")]


class EchoReceiveProcessor(MessageProcessor):
    eqk = [(EchoExchange, [(RPC_QUEUE, "echo-rpc-rk")])]
    remote_control = True  # obeys the sender's "command quit"

    @RpcHandler("command", "echo")
    def msg_echo(self, content: Any, reply_func: ReplyFunction) -> None:
        say(f"received: {content['parameters']['args'][0]}")
        reply_func(MessageResult("RPC message received"))


def send(url: str | None) -> None:
    with EchoProducer(msgbus.Fingerprint("echo_send", "application"),
                      transport=msgbus.connect(url)) as producer:
        say("calling echo")
        reply = producer.rpc_echo("RPC test message", _timeout=5, _max_retry=1)
        say(f"reply: {reply.value}" if reply else f"RPC failed: {reply.value}: {reply.message}")
        producer.message_quit()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(__doc__ or "", argv)
    receiver = None
    if args.role in ("both", "receive"):
        receiver = EchoReceiveProcessor(msgbus.Fingerprint("echo_receive", "controller"),
                                        transport=msgbus.connect(args.url))
        if args.role == "receive":
            say("waiting for echo calls (a 'quit' command stops)")
            receiver.run()
            return 0
        receiver.start()
    send(args.url)
    if receiver is not None:
        receiver.join(10)
        receiver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
