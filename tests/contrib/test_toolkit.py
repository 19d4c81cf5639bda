"""The toolkit: tables, Mermaid, routing explanations, traces, and their CLI commands."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from contrib.explain import explain, parse_table
from contrib.trace import trace
from contrib.views import broker_state, format_table, mermaid, queues_table
from msgbus import ManualClock, Properties
from msgbus.cli import main
from transports.memory import Broker, MemoryTransport


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 0
    return capsys.readouterr().out


@pytest.fixture
def broker() -> Broker:
    return Broker(clock=ManualClock())


@pytest.fixture
def transport(broker: Broker) -> MemoryTransport:
    return MemoryTransport(broker)


# -- explain ------------------------------------------------------------------------


def test_explain_topic_word_by_word(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(["explain", "topic", "--binding", "a.*", "--binding", "a.#", "--binding",
                "#.c", "--key", "a.b.c"], capsys)
    assert out == textwrap.dedent("""\
        topic exchange, routing key 'a.b.c'
        binding 1 'a.*': no match
            pattern 'a.*' has 2 word(s) ['a', '*']; key 'a.b.c' has 3 word(s) ['a', 'b', 'c']
            'a' equals 'a'
            '*' takes exactly one word: 'b'
            the pattern ends but the key has 1 more word(s) ['c']
        binding 2 'a.#': match
            pattern 'a.#' has 2 word(s) ['a', '#']; key 'a.b.c' has 3 word(s) ['a', 'b', 'c']
            'a' equals 'a'
            '#' takes 2 word(s) ['b', 'c']
        binding 3 '#.c': match
            pattern '#.c' has 2 word(s) ['#', 'c']; key 'a.b.c' has 3 word(s) ['a', 'b', 'c']
            '#' takes 2 word(s) ['a', 'b']
            'c' equals 'c'
        => the message goes to the destinations of binding(s) 2, 3
        """)


def test_explain_hash_matches_zero_words(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(["explain", "topic", "--binding", "lazy.#", "--key", "lazy"], capsys)
    assert "binding 1 'lazy.#': match" in out
    assert "'#' takes 0 word(s) []" in out


def test_explain_headers_key_by_key(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(["explain", "headers", "--binding", "x-match=any,format=pdf,type=report",
                "--binding", "format=pdf,size=3", "--header", "format=pdf",
                "--header", 'size="3"'], capsys)
    assert out.splitlines() == [
        "headers exchange, routing key '', headers {'format': 'pdf', 'size': '3'}",
        "binding 1 {x-match='any', format='pdf', type='report'}: match",
        "    x-match any: at least one binding header must match",
        "    'format': binding <<\"pdf\">> (longstr) == message <<\"pdf\">> (longstr) -> yes",
        "    'type': missing from the message -> no",
        "binding 2 {format='pdf', size=3}: no match",
        "    x-match all: every binding header must match",
        "    'format': binding <<\"pdf\">> (longstr) == message <<\"pdf\">> (longstr) -> yes",
        "    'size': binding 3 (signedint) /= message <<\"3\">> (longstr) -> no",
        "=> the message goes to the destinations of binding(s) 1",
    ]


def test_explain_direct_and_fanout() -> None:
    direct = explain("direct", ["info", "error"], "error")
    assert [b.matches for b in direct.bindings] == [False, True]
    assert direct.bindings[0].steps == (
        "binding key 'info' differs from routing key 'error' (direct compares the whole key)",)
    fanout = explain("fanout", ["x", ""], "anything")
    assert [b.number for b in fanout.matched] == [1, 2]
    nothing = explain("direct", ["info"], "debug")
    assert nothing.text().endswith("=> no binding matches: the message is dropped "
                                   "(or returned, if published as mandatory)")


def test_explain_refuses_what_it_cannot_explain(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit, match="give at least one --binding"):
        main(["explain", "topic", "--key", "a"])
    with pytest.raises(SystemExit, match="expected NAME=VALUE, got 'format'"):
        main(["explain", "headers", "--binding", "format"])
    with pytest.raises(ValueError, match="unknown exchange type 'x-delayed'"):
        explain("x-delayed", ["a"], "a")
    assert parse_table('{"x-match": "all", "n": 1}') == {"x-match": "all", "n": 1}
    assert parse_table("n=1, flag=true, name=bob") == {"n": 1, "flag": True, "name": "bob"}


# -- tables and Mermaid ---------------------------------------------------------------


def test_format_table_aligns_columns() -> None:
    assert format_table(["name", "n"], [["a-long-name", 1], ["b", True]]) == (
        "name         n\n"
        "a-long-name  1\n"
        "b            true")


def _topology(t: MemoryTransport) -> None:
    t.declare_exchange("logs", "topic")
    t.declare_queue("errors", arguments={"x-max-length": 10})
    t.declare_queue("all")
    t.bind_queue("errors", "logs", "*.error")
    t.bind_queue("all", "logs", "#")
    t.publish("logs", "db.error", b"disk full")
    t.publish("logs", "db.info", b"started")


def test_queue_table_counts_ready_unacked_consumers(broker: Broker,
                                                    transport: MemoryTransport) -> None:
    _topology(transport)
    delivery = transport.get("all")
    assert delivery is not None
    assert queues_table(broker) == (
        "name    messages_ready  messages_unacknowledged  consumers  arguments\n"
        "errors  1               0                        0          x-max-length=10\n"
        "all     1               1                        0")


def test_broker_state_has_every_table(broker: Broker, transport: MemoryTransport) -> None:
    _topology(transport)
    state = broker_state(broker)
    assert [line for line in state.splitlines() if not line.startswith(" ")] == [
        "queues:", "exchanges:", "bindings:", "connections:", "channels:"]
    rows = [line.split() for line in state.splitlines()]
    assert ["logs", "topic", "false", "false", "false"] in rows
    assert ["logs", "errors", "queue", "*.error"] in rows


def test_mermaid_draws_exchanges_queues_and_bindings(broker: Broker,
                                                     transport: MemoryTransport) -> None:
    _topology(transport)
    transport.declare_exchange("audit", "headers")
    transport.bind_exchange("audit", "logs", "#")
    transport.bind_queue("all", "audit", "", {"x-match": "any", "level": "error"})
    assert mermaid(broker) == textwrap.dedent("""\
        flowchart LR
            x0{{"audit<br/>headers"}}
            x1{{"logs<br/>topic"}}
            q0[("errors")]
            q1[("all")]
            x0 -->|"x-match=any, level=error"| q1
            x1 -->|"*.error"| q0
            x1 -->|"#"| q1
            x1 -->|"#"| x0""")


# -- the tracer ---------------------------------------------------------------------


def test_trace_follows_a_message_to_the_dead_letter_queue(broker: Broker,
                                                         transport: MemoryTransport) -> None:
    t = transport
    t.declare_exchange("dlx", "fanout")
    t.declare_queue("parking")
    t.bind_queue("parking", "dlx")
    t.declare_queue("work", arguments={"x-dead-letter-exchange": "dlx",
                                       "x-message-ttl": 5000})
    with trace(broker) as tracer:
        t.publish("", "work", b"job 1")
        t.publish("", "work", b"job 2")
        first = t.get("work")
        assert first is not None
        t.reject(first.delivery_tag, requeue=False)
        assert isinstance(broker.clock, ManualClock)
        broker.clock.advance(5)
        broker.tick()
    assert tracer.lines == [
        "    publish  the default exchange, routing key 'work', body b'job 1'",
        "      route  the default exchange sends it to the queue named 'work'",
        "    publish  the default exchange, routing key 'work', body b'job 2'",
        "      route  the default exchange sends it to the queue named 'work'",
        "    deliver  queue 'work' -> basic.get (delivery tag 1)",
        "     reject  queue 'work' (rejected)",
        "dead-letter  queue 'work' (rejected) -> exchange 'dlx' (fanout), routing key 'work'"
        " -> 'parking'",
        "     expire  queue 'work' (expired)",
        "dead-letter  queue 'work' (expired) -> exchange 'dlx' (fanout), routing key 'work'"
        " -> 'parking'",
    ]
    t.publish("", "work", b"after")  # no longer traced
    assert len(tracer.lines) == 9


def test_trace_names_the_bindings_that_matched(broker: Broker,
                                               transport: MemoryTransport) -> None:
    t = transport
    t.declare_exchange("docs", "headers")
    t.declare_queue("pdfs")
    t.declare_queue("reports")
    t.bind_queue("pdfs", "docs", "", {"format": "pdf"})
    t.bind_queue("reports", "docs", "", {"x-match": "any", "type": "report", "kind": "r"})
    lines: list[str] = []
    with trace(broker, out=lines.append) as tracer:
        t.publish("docs", "", b"%PDF", Properties(headers={"format": "pdf", "type": "memo"}))
        t.publish("docs", "", b"?", Properties(headers={"format": "txt"}))
        consumer = t.consume("pdfs", lambda d: t.ack(d.delivery_tag))
        t.process_events()
        consumer.cancel()
    assert lines == tracer.lines
    assert lines[:4] == [
        "    publish  exchange 'docs' (headers), routing key '', headers "
        "{'format': 'pdf', 'type': 'memo'}, body b'%PDF'",
        "      route  -> queue 'pdfs' (binding {'format': 'pdf'})",
        "    publish  exchange 'docs' (headers), routing key '', headers {'format': 'txt'}, "
        "body b'?'",
        "      route  no binding matches: the message is dropped",
    ]
    assert lines[4].startswith("    deliver  queue 'pdfs' -> consumer 'amq.ctag-")
    assert lines[5] == "        ack  queue 'pdfs', delivery tag 1"


# -- the CLI on in-process brokers --------------------------------------------------


@pytest.fixture
def program(tmp_path: Path) -> str:
    path = tmp_path / "setup_topology.py"
    path.write_text(textwrap.dedent("""\
        import msgbus

        transport = msgbus.connect()  # MSGBUS_URL: the broker the command looks at
        transport.declare_exchange("orders", "direct")
        transport.declare_queue("billing")
        transport.bind_queue("billing", "orders", "new")
        transport.publish("orders", "new", b"order 1")
        print("topology ready")
        """))
    return str(path)


def test_list_runs_a_program_then_prints_the_table(program: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(["list", "queues", "--url", "memory://cli-list", "--run", program], capsys)
    assert out == ("topology ready\n"
                   "name     messages_ready  messages_unacknowledged  consumers  arguments\n"
                   "billing  1               0                        0\n")
    out = _run(["list", "bindings", "--url", "memory://cli-list"], capsys)
    assert "orders     billing      queue             new" in out
    for what in ("exchanges", "connections", "channels"):
        assert _run(["list", what, "--url", "memory://cli-list"], capsys)


def test_mermaid_command(program: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(["mermaid", "--url", "memory://cli-mermaid", "--run", program], capsys)
    assert out.splitlines()[1:] == [
        "flowchart LR", '    x0{{"orders<br/>direct"}}', '    q0[("billing")]',
        '    x0 -->|"new"| q0']


def test_trace_command(program: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(["trace", program], capsys)
    assert out.splitlines() == [
        "  |     publish  exchange 'orders' (direct), routing key 'new', body b'order 1'",
        "  |       route  -> queue 'billing' (binding 'new')",
        "topology ready",
    ]


def test_trace_runs_a_program_as_python_would(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    # the script's folder is on sys.path (it imports the module beside it), and a program
    # that connects to memory:// itself, not through MSGBUS_URL, is traced too
    (tmp_path / "beside_it.py").write_text("QUEUE = 'from-beside'\n")
    script = tmp_path / "explicit_url.py"
    script.write_text(textwrap.dedent("""\
        import msgbus
        from beside_it import QUEUE

        with msgbus.connect("memory://") as transport:
            transport.declare_queue(QUEUE)
            transport.publish("", QUEUE, b"seen")
            transport.delete_queue(QUEUE)
        print("done")
    """))
    out = _run(["trace", str(script)], capsys)
    assert out.splitlines() == [
        "  |     publish  the default exchange, routing key 'from-beside', body b'seen'",
        "  |       route  the default exchange sends it to the queue named 'from-beside'",
        "done",
    ]
    assert str(tmp_path) not in sys.path


def test_a_server_that_is_down_gets_one_line_and_a_failing_exit(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"amqp://guest:s3cretPW@127.0.0.1:{port}/%2F"
    done = subprocess.run([sys.executable, "-m", "msgbus", "demo", "--url", url],
                          capture_output=True, text=True, timeout=60, check=False,
                          cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith(f"msgbus demo: ConnectionLost: cannot connect to "
                                  f"amqp://guest:***@127.0.0.1:{port}/%2F")
    assert len(done.stderr.splitlines()) == 1
    assert "s3cretPW" not in done.stdout + done.stderr


def test_the_cli_points_to_rabbitmqctl_for_a_server(capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    with pytest.raises(SystemExit, match=r"not a memory:// broker.*rabbitmqctl"):
        main(["list", "queues", "--url", "amqp://guest:guest@localhost/%2F"])
    with pytest.raises(SystemExit):
        main(["list", "--help"])
    assert "rabbitmqctl" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="no such program"):
        main(["trace", "does-not-exist.py"])
