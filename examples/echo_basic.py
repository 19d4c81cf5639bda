"""The basic echo: a receiver prints the parameters of every ``echo`` command it gets.

    python examples/echo_basic.py                  # receiver and sender in one process
    python examples/echo_basic.py receive --url amqp://guest:guest@localhost/%2F
    python examples/echo_basic.py send --url amqp://guest:guest@localhost/%2F
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from echo_shared import SHARED_QUEUE, EchoExchange, parse_args, say

import msgbus
from msgbus import GenericProducer, MessageHandler, MessageProcessor


class EchoProducer(GenericProducer):
    eks = [(EchoExchange, "echo-rk")]


class EchoReceiveProcessor(MessageProcessor):
    eqk = [(EchoExchange, [(SHARED_QUEUE, "echo-rk")])]
    remote_control = True  # obeys the sender's "command quit"

    @MessageHandler("command", "echo")
    def msg_echo(self, content: Any) -> None:
        say(f"received: {content['parameters']['args'][0]}")


def send(url: str | None) -> None:
    with EchoProducer(msgbus.Fingerprint("echo_send", "application"),
                      transport=msgbus.connect(url)) as producer:
        for text in ("A test message", "Another one"):
            say(f"sending: {text}")
            producer.message_echo(text)
        producer.message_quit()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(__doc__ or "", argv)
    receiver = None
    if args.role in ("both", "receive"):
        receiver = EchoReceiveProcessor(msgbus.Fingerprint("echo_receive", "controller"),
                                        transport=msgbus.connect(args.url))
        if args.role == "receive":
            say("waiting for echo commands (a 'quit' command stops)")
            receiver.run()
            return 0
        receiver.start()
    send(args.url)
    if receiver is not None:
        receiver.join(10)  # the sender's quit stops it
        receiver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
