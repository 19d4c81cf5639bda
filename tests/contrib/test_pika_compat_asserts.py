"""The pika facade raises pika's ``AssertionError`` s itself, not with ``assert`` statements:
installing msgbus registers a pytest plugin, so pytest rewrites the distribution's modules
(an assert's message would change), and ``python -O`` strips asserts (the check would go).
Both are run here in a fresh process, as a user meets them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import contrib.pika_compat

pytest_plugins = ["pytester"]

FACADE = Path(contrib.pika_compat.__file__).parent

#: pika checks these with assert statements; what its AssertionError carries.
CHECKS = """
from contrib.pika_compat import BlockingConnection
from transports.memory import Broker

def raised(action):
    try:
        action()
    except AssertionError as error:
        return error.args
    return "nothing raised"

connection = BlockingConnection(broker=Broker())
RESULTS = {
    "sleep -1": raised(lambda: connection.sleep(-1)),
    "sleep -0.5": raised(lambda: connection.sleep(-0.5)),
}
EXPECTED = {"sleep -1": (-1,), "sleep -0.5": (-0.5,)}
"""


def test_the_facade_has_no_assert_statements() -> None:
    found = [f"{path.name}:{node.lineno}"
             for path in sorted(FACADE.glob("*.py"))
             for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Assert)]
    assert found == []


def test_checks_hold_under_python_dash_o() -> None:
    # the final assert fails unless -O strips it
    script = CHECKS + "print(RESULTS == EXPECTED, RESULTS)\nassert False, 'not under -O'\n"
    done = subprocess.run([sys.executable, "-O", "-c", script], capture_output=True,
                          text=True, timeout=60, check=False)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("True "), done.stdout


def test_checks_keep_pikas_messages_under_pytests_assertion_rewriting(
        pytester: pytest.Pytester) -> None:
    # what an installed msgbus gets: pytest rewrites the modules of a plugin's distribution
    pytester.makeconftest("import pytest\n"
                          "pytest.register_assert_rewrite('contrib.pika_compat')\n")
    pytester.makepyfile(test_facade=CHECKS + """

def test_rewritten():
    assert RESULTS == EXPECTED
""")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=1)
