"""Every Python example in the README says on its first line whether it runs as written,
and those that say so do: each program in a fresh process (from a folder that is not the
checkout, with no MSGBUS_URL), the test files together under pytest."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parents[2] / "README.md"
RUNS = "# runs as written"
RUNS_UNDER_PYTEST = "# runs as written under pytest"
OTHERS = ("# needs a RabbitMQ server", "# needs RabbitMQ servers", "# a fragment")


def _snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def _marker(snippet: str) -> str:
    return snippet.split("\n", 1)[0]


def test_every_snippet_says_whether_it_runs_as_written() -> None:
    unmarked = [snippet[:200] for snippet in _snippets()
                if _marker(snippet) not in (RUNS, RUNS_UNDER_PYTEST)
                and not _marker(snippet).startswith(OTHERS)]
    assert unmarked == []


PROGRAMS = [snippet for snippet in _snippets() if _marker(snippet) == RUNS]


@pytest.mark.parametrize("program", PROGRAMS,
                         ids=[f"program{n}" for n in range(1, len(PROGRAMS) + 1)])
def test_the_programs_run(program: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("MSGBUS_URL", "PYTHONPATH")}
    done = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_test_files_pass_under_pytest(pytester: pytest.Pytester,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MSGBUS_TEST_URL", raising=False)
    tests = [snippet for snippet in _snippets() if _marker(snippet) == RUNS_UNDER_PYTEST]
    assert len(tests) >= 3
    for n, snippet in enumerate(tests, 1):
        pytester.makepyfile(**{f"test_readme_{n}": snippet})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=sum(s.count("\ndef test_") for s in tests))
