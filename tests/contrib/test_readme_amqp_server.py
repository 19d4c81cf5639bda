"""The README's section on serving the broker runs as written: the aio-pika and Celery
programs print what they say, and the test using ``msgbus_amqp_url`` passes."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parents[2] / "README.md"
ROOT = README.parent


def _snippets() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Serving the broker to any AMQP client", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    if done.returncode != 0:
        pytest.fail(f"the README snippet failed:\n{done.stderr[-3000:]}")
    return done.stdout


def test_the_aio_pika_program_prints_its_message() -> None:
    aio_pika_program = next(code for code in _snippets() if "aio_pika" in code)
    assert _run(aio_pika_program).splitlines() == ["hello over AMQP"]


def test_the_celery_program_prints_the_task_result() -> None:
    celery_program = next(code for code in _snippets() if "Celery" in code)
    assert _run(celery_program).splitlines() == ["5"]


def test_the_fixture_example_passes(pytester: pytest.Pytester) -> None:
    example = next(code for code in _snippets() if "msgbus_amqp_url" in code)
    pytester.makepyfile(test_readme_example=textwrap.dedent(example))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1)
