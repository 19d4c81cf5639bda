"""``msgbus tutorial N --serve``: the tutorial runs, then its broker stays up behind the
management page until Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys

from tests.contrib.management.conftest import Http

MAIN = "import sys; from msgbus.cli import main; sys.exit(main())"


def test_the_tutorials_broker_stays_up_behind_the_page() -> None:
    with subprocess.Popen([sys.executable, "-c", MAIN, "tutorial", "2", "--serve", "0"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            assert first.startswith("management page and API: http://127.0.0.1:"), first
            url = first.split()[4]
            for line in process.stdout:  # the tutorial's output, then the broker stays up
                if line.startswith("The broker stays up"):
                    break
            else:
                raise AssertionError(
                    f"the tutorial ended the process: {process.stderr.read()}")
            client = Http(url)
            # the tutorial deletes its queue at the end; what it did stays in the statistics
            stats = client("GET", "/api/overview").json()["message_stats"]
            assert (stats["publish"], stats["deliver"], stats["ack"]) == (6, 6, 6)
            assert client("GET", "/").status == 200
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
