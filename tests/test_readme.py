"""The README's commands and examples are true."""

import os
import re
import shlex
import subprocess
import sys
import venv

import pytest
from click.testing import CliRunner
from conftest import CORPUS, ROOT

from searchlib.cli import main

README = (ROOT / "README.md").read_text(encoding="utf-8")


def setup_commands() -> list[str]:
    section = README.split("## Set up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n\s*(.+?)\n\s*```", section)


def test_readme_gives_exactly_two_setup_commands():
    assert setup_commands() == [
        'pip install . && searchlib search "victimes de la traite"',
        "pip install -e '.[test]' && python -m pytest",
    ]


def test_readme_ci_runs_the_test_command_in_a_fresh_environment():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python3 -m venv" in ci
    assert setup_commands()[1] in ci.splitlines()


def cli(args: list[str], index) -> str:
    result = CliRunner().invoke(main, [*args, "--index", str(index.path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_readme_console_example_is_real_output(seed_index):
    block = re.search(r"```console\n\$ (searchlib [^\n]+)\n(.+?)```", README, re.DOTALL)
    args = shlex.split(block.group(1))[1:]
    assert cli(args, seed_index) == block.group(2)


def example_rows():
    rows = re.findall(r"^\| `(searchlib search [^`]+)` \| (.+?) \|$", README, re.MULTILINE)
    assert len(rows) >= 10
    return rows


@pytest.mark.parametrize(("command", "finds"), example_rows())
def test_readme_search_examples_find_what_they_say(seed_index, command, finds):
    out = cli(shlex.split(command)[1:], seed_index)
    suggestion = re.search(r"Did you mean: (\w+)", finds)
    if suggestion:
        assert f"Did you mean: {suggestion.group(1)}\n" in out
    if finds.startswith("nothing"):
        assert out.startswith("No results")
        return
    passages = [line for line in out.splitlines() if line.startswith("   ") and "**" in line]
    marked = {word for line in passages for word in re.findall(r"\*\*(.+?)\*\*", line)}
    claimed = [w for phrase in re.findall(r"\*([^*]+)\*", finds.split("Did you mean")[0]) for w in phrase.split()]
    if "NOT" in command:
        excluded = claimed.pop()
        assert all(excluded not in line for line in passages)
    assert claimed and set(claimed) <= marked, (command, claimed, marked)
    if "--per-doc" in command:
        assert out.count(" · passage ") == 1


def test_readme_python_example_runs(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.+?)```", README, re.DOTALL).group(1)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus").symlink_to(CORPUS)
    printed = []
    exec(compile(code, "README.md", "exec"), {"print": lambda *a: printed.append(a)})
    assert ("note", 0, ["traité"]) in printed


@pytest.mark.slow
def test_readme_command_1_works_in_a_fresh_virtualenv(tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bindir = env_dir / "bin"
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(env_dir)}
    env.pop("SEARCHLIB_INDEX", None)
    env.pop("PYTHONPATH", None)
    command = setup_commands()[0].replace("pip install .", f"pip install --quiet {shlex.quote(str(ROOT))}")
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(command, shell=True, cwd=work, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "No index at ./index: building it from the bundled corpus" in done.stderr
    assert "**victimes**" in done.stdout and "**traite**" in done.stdout
    assert sys.prefix not in done.stdout
