"""The README's Quick start runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def test_quick_start_runs(capsys: pytest.CaptureFixture[str]) -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    [code] = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    code = code.replace('"memory://"', '"memory://readme-quick-start"')
    exec(compile(code, "README.md (Quick start)", "exec"), {"__name__": "readme"})
    assert capsys.readouterr().out.splitlines() == ["resizing ['cat.png', 200]", "12"]
