"""The toolkit's ``msgbus`` subcommands: ``list``, ``mermaid``, ``explain``, ``trace``,
``tutorial``.

They look inside in-process (``memory://``) brokers, which live in one Python process: a
fresh ``msgbus`` process starts with empty ones. So ``list``, ``mermaid`` and ``trace``
can first run a program in this process (``--run SCRIPT`` / ``trace SCRIPT``) with
``MSGBUS_URL`` pointing at the broker and pika patched onto it, then show what it left
behind or did. Programs call :func:`msgbus.cli.main` to print the tables of their own
brokers. For a real RabbitMQ server use its own tools: ``rabbitmqctl list_queues``,
``rabbitmqctl list_bindings``, the management UI's tracing.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import runpy
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from contrib.explain import EXCHANGE_TYPES, explain, parse_table
from contrib.trace import trace
from contrib.views import TABLES, mermaid
from transports.memory import Broker, default_broker, named_broker

__all__ = ["TUTORIALS", "add_commands", "run_program", "tutorial_path"]

IN_PROCESS = (
    "In-process brokers live inside one Python process, so this works on memory:// brokers "
    "of this process only: use --run SCRIPT to run a program here first, or call "
    "msgbus.cli.main([...]) from your program. For a RabbitMQ server use rabbitmqctl "
    "(e.g. rabbitmqctl list_queues name messages_ready messages_unacknowledged consumers).")

TUTORIALS = {
    1: "hello_world", 2: "work_queues", 3: "publish_subscribe", 4: "routing", 5: "topics",
    6: "rpc",
}
_runs = itertools.count(1)
TUTORIAL_DIR = Path(__file__).resolve().parent / "tutorials"  # shipped with the package


def add_commands(commands: Any) -> None:
    """Add the toolkit's subcommands to the ``msgbus`` parser's subparsers."""
    fmt = argparse.RawDescriptionHelpFormatter

    listing = commands.add_parser(
        "list", help="print a table of an in-process broker's queues, exchanges, ...",
        description=f"Print a memory broker's {', '.join(TABLES)} as aligned columns, "
                    f"like rabbitmqctl list_*.\n\n{IN_PROCESS}", formatter_class=fmt)
    listing.add_argument("what", choices=list(TABLES))
    _broker_options(listing)
    listing.set_defaults(run=_list)

    diagram = commands.add_parser(
        "mermaid", help="print an in-process broker's topology as a Mermaid diagram",
        description=f"Print exchanges, queues and bindings as a Mermaid flowchart.\n\n"
                    f"{IN_PROCESS}", formatter_class=fmt)
    _broker_options(diagram)
    diagram.add_argument("--include-default", action="store_true",
                         help="also draw the default exchange's binding to every queue")
    diagram.set_defaults(run=_mermaid)

    why = commands.add_parser(
        "explain", help="explain which bindings a routing key (or headers) matches, and why",
        description="Check each binding the way an exchange of TYPE does: direct compares "
                    "the whole key, fanout ignores it, topic goes word by word ('*' is one "
                    "word, '#' zero or more), headers key by key.\n\nexamples:\n"
                    "  msgbus explain topic --binding 'a.*' --binding 'a.#' --key a.b.c\n"
                    "  msgbus explain headers --binding 'x-match=any,format=pdf,type=report' "
                    "--header format=pdf\n\nA headers value is JSON when it parses as JSON "
                    "(size=3 is a number, size='\"3\"' a string), text otherwise.",
        formatter_class=fmt)
    why.add_argument("type", choices=EXCHANGE_TYPES, help="the exchange type")
    why.add_argument("--binding", action="append", default=[], metavar="KEY",
                     help="a binding key; for headers, arguments as NAME=VALUE,... or JSON "
                          "(repeat for several bindings)")
    why.add_argument("--key", default="", help="the message's routing key")
    why.add_argument("--header", action="append", default=[], metavar="NAME=VALUE",
                     help="a message header (repeatable)")
    why.set_defaults(run=_explain)

    tracing = commands.add_parser(
        "trace", help="run a program on an in-process broker and trace every message",
        description="Run SCRIPT in this process as python would (its folder first on "
                    "sys.path) on a fresh memory broker (MSGBUS_URL is set to it and "
                    "pika.BlockingConnection is patched onto it), printing its output "
                    "interleaved with the broker's trace: publish, route (which bindings "
                    "matched), deliver, ack, reject, expire, dead-letter. A program that "
                    "connects to memory:// itself is traced too.",
        formatter_class=fmt)
    tracing.add_argument("script", help="a Python program")
    tracing.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    tracing.set_defaults(run=_trace)

    lesson = commands.add_parser(
        "tutorial", help="run one of the six RabbitMQ tutorials in-process, with its trace",
        description="Run tutorial N (they come with msgbus; in a source checkout they are "
                    "in examples/tutorials) in this process, showing the broker's trace. "
                    "Without N, list them. Tutorials: "
                    + ", ".join(f"{n} {name}" for n, name in TUTORIALS.items()) + ".",
        formatter_class=fmt)
    lesson.add_argument("number", type=int, nargs="?", choices=list(TUTORIALS))
    lesson.add_argument("--pika", action="store_true",
                        help="run the pika version (through contrib.pika_compat.patch()) "
                             "instead of the msgbus one")
    lesson.add_argument("--serve", type=int, nargs="?", const=15672, default=None,
                        metavar="PORT",
                        help="keep the tutorial's broker up afterwards, with RabbitMQ's "
                             "management API and a live web page on PORT (default 15672), "
                             "until Ctrl-C (needs the 'management' extra)")
    lesson.set_defaults(run=_tutorial)


def _broker_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="memory://",
                        help="the broker: memory:// (default) or memory://NAME")
    parser.add_argument("--vhost", default="/", help="the virtual host (default /)")
    parser.add_argument("--run", dest="program", metavar="SCRIPT",
                        help="first run this Python program in-process, on the broker")


def _broker(url: str) -> Broker:
    parts = urlsplit(url)
    if parts.scheme != "memory":
        raise SystemExit(f"msgbus: {url!r} is not a memory:// broker. {IN_PROCESS}")
    return named_broker(parts.netloc)


def _list(args: argparse.Namespace) -> int:
    broker = _broker(args.url)
    if args.program:
        run_program(args.program, [], broker, args.url)
    print(TABLES[args.what](broker, args.vhost))
    return 0


def _mermaid(args: argparse.Namespace) -> int:
    broker = _broker(args.url)
    if args.program:
        run_program(args.program, [], broker, args.url)
    print(mermaid(broker, args.vhost, include_default=args.include_default))
    return 0


def _explain(args: argparse.Namespace) -> int:
    try:
        if args.type == "headers":
            bindings: list[Any] = [parse_table(b) for b in args.binding]
            table: dict[str, Any] = {}
            for item in args.header:
                table.update(parse_table(item))
            headers: dict[str, Any] | None = table
        else:
            bindings, headers = list(args.binding), None
    except ValueError as error:
        raise SystemExit(f"msgbus explain: {error}") from None
    if not bindings:
        raise SystemExit("msgbus explain: give at least one --binding")
    print(explain(args.type, bindings, args.key, headers).text())
    return 0


def _fresh_broker(prefix: str) -> tuple[Broker, str]:
    """A new named broker (a program finds it through ``MSGBUS_URL=memory://NAME``)."""
    name = f"{prefix}-{next(_runs)}"
    return named_broker(name), f"memory://{name}"


def _trace(args: argparse.Namespace) -> int:
    broker, url = _fresh_broker("trace")
    return traced(args.script, args.args, broker, url)


def _tutorial(args: argparse.Namespace) -> int:
    if args.number is None:
        for n, name in TUTORIALS.items():
            print(f"{n}  {name.replace('_', ' ')}")
        return 0
    path = tutorial_path(args.number, "pika" if args.pika else "msgbus")
    broker, url = _fresh_broker(f"tutorial-{args.number}")
    if args.serve is not None:
        try:
            from contrib.management.foreground import watch
        except ImportError as error:
            raise SystemExit(f"msgbus tutorial --serve needs the management extra "
                             f"(pip install 'msgbus[management]'): {error}") from None
        return watch(broker, lambda: traced(str(path), [], broker, url), port=args.serve)
    return traced(str(path), [], broker, url)


def tutorial_path(number: int, flavour: str = "msgbus") -> Path:
    """The file of tutorial ``number`` (``flavour``: ``msgbus`` or ``pika``), shipped in
    the package (``contrib/tutorials``)."""
    path = TUTORIAL_DIR / flavour / f"t{number}_{TUTORIALS[number]}.py"
    if not path.is_file():
        raise SystemExit(f"msgbus: tutorial {number} ({flavour}) should be at {path}, but "
                         "there is no such file: the msgbus installation is incomplete")
    return path


def traced(script: str, argv: Sequence[str], broker: Broker, url: str) -> int:
    """Run ``script`` on ``broker`` with its output and the broker's trace interleaved.
    The process's default broker is traced too: a program may connect to ``memory://``
    itself instead of following ``MSGBUS_URL``."""
    with contextlib.ExitStack() as tracing:
        for each in dict.fromkeys([broker, default_broker()]):
            tracing.enter_context(trace(each, out=_print_trace))
        return run_program(script, argv, broker, url)


_print_lock = threading.Lock()


def _print_trace(line: str) -> None:
    # listeners run on whichever thread touched the broker: one write per line, under a lock
    with _print_lock:
        sys.stdout.write(f"  | {line}\n")
        sys.stdout.flush()


def run_program(script: str, argv: Sequence[str], broker: Broker, url: str) -> int:
    """Run a Python program in this process, as ``python script argv...`` would, with
    ``MSGBUS_URL=url`` and pika's ``BlockingConnection`` patched onto ``broker``."""
    if not Path(script).is_file():
        raise SystemExit(f"msgbus: no such program: {script}")
    with _environment(url, [script, *argv]), _script_folder_on_path(script), \
            _pika_patched(broker):
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as stop:
            code = stop.code
            return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


@contextmanager
def _environment(url: str, argv: list[str]) -> Iterator[None]:
    saved_url, saved_argv = os.environ.get("MSGBUS_URL"), sys.argv
    os.environ["MSGBUS_URL"] = url
    sys.argv = argv
    try:
        yield
    finally:
        sys.argv = saved_argv
        if saved_url is None:
            os.environ.pop("MSGBUS_URL", None)
        else:
            os.environ["MSGBUS_URL"] = saved_url


@contextmanager
def _script_folder_on_path(script: str) -> Iterator[None]:
    """``sys.path[0]`` is the script's folder while it runs, as ``python script`` has it
    (so that it imports the modules beside it)."""
    folder = str(Path(script).resolve().parent)
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):  # the program may have removed it itself
            sys.path.remove(folder)


@contextmanager
def _pika_patched(broker: Broker) -> Iterator[None]:
    try:
        from contrib.pika_compat import patch
    except ImportError:  # pika is not installed: programs cannot use it anyway
        yield
        return
    with patch(broker):
        yield
