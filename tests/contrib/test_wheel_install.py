"""msgbus as a user gets it: the wheel built from this tree, installed into a fresh virtual
environment with a plain ``pip install``, used from a folder that is not the checkout.

Only the third-party dependencies (pika, pytest) come from the environment running these
tests; msgbus itself, its ``msgbus`` command and its pytest plugin come from the wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_SOURCES = ("msgbus", "transports", "contrib", "pyproject.toml", "README.md")


def _run(*command: str | Path, cwd: Path, timeout: float = 300
         ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MSGBUS_URL")}
    return subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, check=False, env=env)


def _checked(*command: str | Path, cwd: Path) -> str:
    done = _run(*command, cwd=cwd)
    assert done.returncode == 0, (command, done.stdout, done.stderr)
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh virtual environment with the wheel installed."""
    work = tmp_path_factory.mktemp("install")
    source = work / "source"  # a copy: building writes build/ and *.egg-info beside the code
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in _SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy(ROOT / name, source / name)
    _checked(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", work / "dist",
             source, cwd=work)
    wheel = next((work / "dist").glob("msgbus-*.whl"))
    venv = work / "venv"
    _checked(sys.executable, "-m", "venv", "--without-pip", venv, cwd=work)
    python = venv / "bin" / "python"
    _checked(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
             "--no-index", wheel, cwd=work)
    # the dependencies: everything of this environment except msgbus (an editable install)
    deps = work / "deps"
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if entry.suffix != ".pth" and not entry.name.startswith(("msgbus", "__editable__")):
            (deps / entry.name).symlink_to(entry)
    site = _checked(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                    cwd=work).strip()
    (Path(site) / "test_dependencies.pth").write_text(f"{deps}\n")
    where = _checked(python, "-c", "import contrib, msgbus; print(msgbus.__file__, "
                     "contrib.__file__)", cwd=work)
    assert str(ROOT) not in where and where.count(site) == 2, where
    return venv / "bin"


def test_msgbus_tutorial_runs_after_a_plain_install(installed: Path, tmp_path: Path) -> None:
    out = _checked(installed / "msgbus", "tutorial", "1", cwd=tmp_path)
    assert "  |     deliver  queue 'hello' -> consumer 'receiver' (delivery tag 1)" in out
    assert out.splitlines()[-1] == "received: Hello World!"
    out = _checked(installed / "msgbus", "tutorial", "6", "--pika", cwd=tmp_path)
    assert out.splitlines()[-1] == "got fib(30) = 832040"


def test_the_installed_plugin_leaves_a_projects_own_contrib_alone(installed: Path,
                                                                   tmp_path: Path) -> None:
    for package in ("contrib", "transports"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
        (tmp_path / package / "helpers.py").write_text(f"WHO = 'own {package}'\n")
    (tmp_path / "test_project.py").write_text(textwrap.dedent("""\
        from contrib.helpers import WHO as CONTRIB
        from transports.helpers import WHO as TRANSPORTS

        def test_own_packages(msgbus_clock):
            assert (CONTRIB, TRANSPORTS) == ("own contrib", "own transports")
    """))
    for runner in ([installed / "python", "-m", "pytest"], [installed / "python", "-c",
                   "import sys, pytest; sys.exit(pytest.console_main())"]):
        done = _run(*runner, "-q", "-p", "no:cacheprovider", cwd=tmp_path)
        assert done.returncode == 0, (done.stdout, done.stderr)
        assert "1 passed" in done.stdout


def test_python_dash_m_msgbus_beside_a_projects_own_contrib(installed: Path,
                                                            tmp_path: Path) -> None:
    (tmp_path / "contrib").mkdir()
    (tmp_path / "contrib" / "__init__.py").write_text("")
    out = _checked(installed / "python", "-m", "msgbus", "tutorial", "1", cwd=tmp_path)
    assert out.splitlines()[-1] == "received: Hello World!"


def test_the_installed_facade_keeps_pikas_assertion_messages(installed: Path,
                                                             tmp_path: Path) -> None:
    # pytest rewrites the asserts of a plugin's whole distribution: pika's checks must
    # still raise what pika raises
    (tmp_path / "test_facade.py").write_text(textwrap.dedent("""\
        import pytest
        from contrib.pika_compat import BlockingConnection
        from transports.memory import Broker

        def test_sleep_refuses_a_negative_duration():
            with pytest.raises(AssertionError) as raised:
                BlockingConnection(broker=Broker()).sleep(-1)
            assert raised.value.args == (-1,)
    """))
    done = _run(installed / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                cwd=tmp_path)
    assert done.returncode == 0, (done.stdout, done.stderr)
