"""The ``msgbus`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from msgbus import __version__
from msgbus.errors import MsgbusError

__all__ = ["main"]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``command`` "serve", that command's alone (a server
    started from the shell should not wait for the other commands' imports)."""
    parser = argparse.ArgumentParser(prog="msgbus", description=__doc__)
    parser.add_argument("--version", action="version", version=f"msgbus {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    if command != "serve":
        from msgbus.demo import add_demo_command

        add_demo_command(commands)
        _add_toolkit_commands(commands)
    _add_serve_command(commands)
    return parser


def _add_toolkit_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]
                          ) -> None:
    """list, mermaid, explain, trace, tutorial: looking inside in-process brokers."""
    from contrib.toolkit import add_commands

    add_commands(commands)


def _add_serve_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]
                       ) -> None:
    """serve: the in-process broker over AMQP 0-9-1."""
    from contrib.amqp_server.cli import add_serve_command

    add_serve_command(commands)


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(words[0] if words else None)
    args = parser.parse_args(words)
    if args.command is None:
        parser.print_help()
    run = getattr(args, "run", None)
    if run is None:
        return 0
    try:
        code: int = run(args)
    except MsgbusError as error:
        # what went wrong outside the program (a server down, a bad URL): one line, no
        # traceback; the errors never carry credentials
        text = " ".join(str(error).split())
        print(f"msgbus {args.command}: {type(error).__name__}: {text}", file=sys.stderr)
        return 1
    return code
