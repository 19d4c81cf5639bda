"""The servers that bench/amqp_server_vs_rabbitmq.py compares, each in its own process: the
embedded AMQP server (``python -m msgbus serve``) and a throwaway RabbitMQ node (started
from ``rabbitmq-server`` on free ports, as scripts/test starts one); how long each takes
from start to a first successful connection, and how much resident memory it grows by per
idle connection."""

from __future__ import annotations

import compileall
import functools
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import pika
import pika.exceptions

ROOT = Path(__file__).resolve().parents[1]
RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
RABBITMQCTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"


def free_port() -> int:
    """A port below Linux's ephemeral range (32768-60999) that nothing holds: ports in that
    range can sit in TIME_WAIT by the thousand on a machine running connection-heavy tests,
    and RabbitMQ's start-up check refuses a distribution port in that state."""
    for _ in range(1000):
        port = random.randrange(20_000, 32_000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 32000")


def _params(url: str) -> pika.URLParameters:
    return pika.URLParameters(url)


def wait_connectable(url: str, started: float, process: subprocess.Popen[bytes],
                     limit: float = 120.0) -> float:
    """Seconds from ``started`` until a pika connection to ``url`` opens (retried every
    5 ms while refused and ``process`` runs)."""
    params = _params(url)
    params.connection_attempts = 1
    params.socket_timeout = 1.0
    while True:
        try:
            connection = pika.BlockingConnection(params)
        except pika.exceptions.AMQPConnectionError:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with status {process.returncode} "
                                   f"before accepting a connection") from None
            if time.perf_counter() - started > limit:
                raise RuntimeError(f"no connection to {params.host}:{params.port} "
                                   f"within {limit} s") from None
            time.sleep(0.005)
            continue
        ready = time.perf_counter() - started
        connection.close()
        return ready


# -- the servers ------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    url: str
    pid: int | None  # the process whose memory is measured
    stop: Callable[[], None] = field(repr=False)
    ready_s: float = 0.0


@functools.cache
def compile_bytecode() -> None:
    """Compile msgbus's modules to ``__pycache__`` once, as ``pip install`` does: a checkout
    run where PYTHONDONTWRITEBYTECODE is set (an editable install writes no bytecode of its
    own) would otherwise compile every module from source in each fresh process, 40 ms
    here, which an installed copy never pays."""
    for package in ("msgbus", "transports", "contrib"):
        compileall.compile_dir(ROOT / package, quiet=1)


def start_embedded() -> Server:
    compile_bytecode()
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "msgbus", "serve", "--port", str(port)], cwd=ROOT,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"amqp://guest:guest@127.0.0.1:{port}/%2F"
    try:
        ready = wait_connectable(url, started, process, limit=20.0)
    except RuntimeError:
        process.kill()
        _, err = process.communicate()
        raise RuntimeError(f"msgbus serve did not come up: {err.decode()[-2000:]}") from None

    def stop() -> None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()

    return Server("embedded", url, process.pid, stop, ready)


def start_rabbitmq_node(attempts: int = 3) -> Server:
    """A throwaway RabbitMQ node on free ports, as scripts/test starts one (tried again on
    other ports when one of those it picked was taken before the node could bind it)."""
    for attempt in range(attempts):
        try:
            return _start_rabbitmq_node()
        except RuntimeError as error:
            if attempt == attempts - 1 or "already_used" not in str(error):
                raise
    raise AssertionError("unreachable")


def _start_rabbitmq_node() -> Server:
    if not os.access(RABBITMQ_SERVER, os.X_OK):
        raise RuntimeError(f"{RABBITMQ_SERVER} is not installed (apt-get install rabbitmq-server)")
    (ROOT / "build").mkdir(exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="bench-rabbitmq-", dir=ROOT / "build"))
    (base / "log").mkdir()
    (base / "enabled_plugins").write_text("[].\n")
    port = free_port()
    while (dist := free_port()) == port:
        pass
    node = f"bench-{os.getpid()}@localhost"
    env = {**os.environ, "HOME": str(base), "RABBITMQ_NODENAME": node,
           "RABBITMQ_NODE_PORT": str(port), "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
           "RABBITMQ_DIST_PORT": str(dist), "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
           "RABBITMQ_LOG_BASE": str(base / "log"), "RABBITMQ_PID_FILE": str(base / "pid"),
           "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
           "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
           "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf")}
    url = f"amqp://guest:guest@127.0.0.1:{port}/%2F"
    started = time.perf_counter()
    with (base / "output").open("wb") as output:
        process = subprocess.Popen([RABBITMQ_SERVER], env=env, cwd=base, stdin=subprocess.DEVNULL,
                                   stdout=output, stderr=subprocess.STDOUT)

    def stop() -> None:
        subprocess.run([RABBITMQCTL, "-n", node, "stop"], env=env, capture_output=True,
                       timeout=60, check=False)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(base, ignore_errors=True)

    try:
        ready = wait_connectable(url, started, process)
    except RuntimeError as error:
        logs = [(base / "output").read_text(errors="replace")[-1500:]]
        logs += [log.read_text(errors="replace")[-1500:] for log in (base / "log").glob("*.log")]
        stop()
        raise RuntimeError(f"RabbitMQ node {node}: {error}\n" + "\n".join(logs)) from None
    pid = int((base / "pid").read_text().strip()) if (base / "pid").exists() else None
    return Server("rabbitmq", url, pid, stop, ready)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def memory_per_connection(server: Server, count: int) -> float:
    """KB the server's resident memory grows by per idle connection (one channel each)."""
    if server.pid is None:
        raise RuntimeError(f"the {server.name} server's process is unknown")
    warm = [pika.BlockingConnection(_params(server.url)) for _ in range(10)]
    for connection in warm:
        connection.channel()
    time.sleep(1.0)
    before = rss_kb(server.pid)
    opened = []
    try:
        for _ in range(count):
            connection = pika.BlockingConnection(_params(server.url))
            connection.channel()
            opened.append(connection)
        time.sleep(2.0)
        after = rss_kb(server.pid)
    finally:
        for connection in opened + warm:
            with suppress(pika.exceptions.AMQPError):
                connection.close()
    return (after - before) / count


INPROCESS = """
import sys, time
import pika
from contrib.amqp_server import AmqpServer
from transports.memory import Broker
started = time.perf_counter()
with AmqpServer(Broker(), host="127.0.0.1", port=0) as server:
    connection = pika.BlockingConnection(pika.URLParameters(server.url))
    ready = time.perf_counter() - started
    connection.close()
print(ready)
"""


def inprocess_ready() -> float:
    """Seconds from ``AmqpServer(Broker())`` (modules already imported) to a connection."""
    done = subprocess.run([sys.executable, "-c", INPROCESS], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    return float(done.stdout.strip().splitlines()[-1])


