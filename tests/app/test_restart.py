"""``command restart`` really re-executes the program (the default ``restart()``)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = textwrap.dedent(
    """
    import os, sys
    import msgbus
    from msgbus import Exchange, GenericProducer, MessageProcessor

    if os.environ.get("APP_RESTARTED") == "1":
        print("second run", sys.argv[1:], flush=True)
        sys.exit(0)
    os.environ["APP_RESTARTED"] = "1"

    class X(Exchange):
        name = "restart-x"

    class P(GenericProducer):
        eks = [(X, "k")]

    transport = msgbus.connect("memory://")
    processor = MessageProcessor(eqk=[(X, [("restart-q", "k")])], transport=transport,
                                 remote_control=True)
    P(transport=transport).message_restart()
    print("first run", flush=True)
    processor.run()
    print("not reached", flush=True)
    """
)


def test_restart_reexecutes_the_program(tmp_path: Path) -> None:
    script = tmp_path / "app.py"
    script.write_text(PROGRAM)
    env = {k: v for k, v in os.environ.items() if k not in ("APP_RESTARTED", "MSGBUS_URL")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, str(script), "--flag"], capture_output=True, text=True, timeout=60,
        env=env, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["first run", "second run ['--flag']"]
