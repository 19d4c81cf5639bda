"""The README's sections "Testing without a server" and "Seeing what the broker holds" run
as shown: their Python blocks run, their ``$ msgbus ...`` commands print what follows them."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from msgbus.cli import main

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]


def _section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start: end if end != -1 else len(text)]


def _blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)


def test_the_testing_section_runs(pytester: pytest.Pytester,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MSGBUS_TEST_URL", raising=False)
    blocks = _blocks(_section("Testing without a server"), "python")
    assert len(blocks) == 2
    pytester.makepyfile(test_readme="\n\n".join(blocks))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=2)


def _commands(section: str) -> list[tuple[str, list[str]]]:
    found = []
    for block in _blocks(section, "console"):
        for chunk in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
            command, *output = chunk.rstrip("\n").split("\n")
            found.append((command, output))
    return found


SEEING = _section("Seeing what the broker holds")


@pytest.mark.parametrize("command, expected", _commands(SEEING),
                         ids=[c for c, _ in _commands(SEEING)])
def test_the_commands_print_what_the_readme_shows(command: str, expected: list[str],
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    argv = shlex.split(command)
    assert argv[0] == "msgbus"
    capsys.readouterr()
    assert main(argv[1:]) == 0
    assert capsys.readouterr().out.splitlines() == expected


def test_the_trace_example_prints_what_the_readme_shows() -> None:
    (code,) = _blocks(SEEING, "python")
    (expected,) = _blocks(SEEING, "text")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})  # our own README
    assert out.getvalue() == expected
