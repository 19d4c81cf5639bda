"""The six tutorials print the same thing on the in-process broker and on RabbitMQ, in
their pika form (in-process through ``contrib.pika_compat.patch()``) and in msgbus form."""

from __future__ import annotations

import fnmatch
import itertools
import runpy
from pathlib import Path

import pytest

from contrib.toolkit import TUTORIALS, run_program, tutorial_path
from msgbus.cli import main
from transports.memory import Broker

NUMBERS = list(TUTORIALS)
FLAVOURS = ["pika", "msgbus"]
_fresh = itertools.count()

FIRST_LINES = {
    1: "sent: Hello World!",
    2: "queued: task 1",
    3: "published: disk is 80% full",
    4: "published [info] service started",
    5: "published 9 animals: quick.orange.rabbit, lazy.orange.elephant, quick.orange.fox, "
       "lazy.brown.fox, lazy.pink.rabbit, quick.brown.fox, orange, quick.orange.new.rabbit, "
       "lazy",
    6: "asked fib(1)",
}
LAST_LINES = {
    1: "received: Hello World!",
    2: "both workers took a share: True",
    3: "archive received: disk is 80% full; user alice logged in; backup finished",
    4: "console received: [info] service started; [warning] slow response; "
       "[error] payment failed",
    5: "rabbits_and_lazy received: quick.orange.rabbit, lazy.orange.elephant, "
       "lazy.brown.fox, lazy.pink.rabbit, lazy",
    6: "got fib(30) = 832040",
}


def _in_process(path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    broker = Broker()
    assert run_program(str(path), [], broker, f"memory://tutorial-test-{next(_fresh)}") == 0
    lines = capsys.readouterr().out.splitlines()
    return lines


def _on_server(path: Path, url: str, capsys: pytest.CaptureFixture[str],
               monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("AMQP_URL", url)   # the pika tutorials
    monkeypatch.setenv("MSGBUS_URL", url)  # the msgbus tutorials
    capsys.readouterr()
    runpy.run_path(str(path), run_name="__main__")
    return capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("number", NUMBERS)
def test_both_flavours_say_the_same_in_process(number: int,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    pika_lines = _in_process(tutorial_path(number, "pika"), capsys)
    msgbus_lines = _in_process(tutorial_path(number, "msgbus"), capsys)
    assert pika_lines == msgbus_lines
    assert pika_lines[0] == FIRST_LINES[number]
    assert pika_lines[-1] == LAST_LINES[number]


@pytest.mark.rabbitmq
@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("number", NUMBERS)
def test_rabbitmq_prints_what_the_memory_broker_prints(
        number: int, flavour: str, amqp_url: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tutorial_path(number, flavour)
    expected = _in_process(path, capsys)
    assert _on_server(path, amqp_url, capsys, monkeypatch) == expected


def test_msgbus_tutorial_shows_the_program_and_its_trace(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tutorial", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    patterns = [
        "  |     publish  the default exchange, routing key 'hello', body b'Hello World!'",
        "  |       route  the default exchange sends it to the queue named 'hello'",
        "sent: Hello World!",
        "  |     deliver  queue 'hello' -> consumer 'receiver' (delivery tag 1)",
        "received: Hello World!",
    ]
    assert len(lines) == len(patterns), lines
    for line, pattern in zip(lines, patterns, strict=True):
        assert fnmatch.fnmatchcase(line, pattern), (line, pattern)
    main(["tutorial", "4", "--pika"])
    out = capsys.readouterr().out
    assert "  |       route  no binding matches: the message is dropped" in out
    assert "published [debug] nobody listens to debug" in out


def test_msgbus_tutorial_without_a_number_lists_them(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tutorial"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "1  hello world", "2  work queues", "3  publish subscribe", "4  routing",
        "5  topics", "6  rpc"]
