"""The README's commands and examples are true."""

import ast
import os
import re
import shlex
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CORPUS, ROOT

from searchlib import AddReport, IndexInfo, SearchResults
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


def test_readme_python_example_runs_and_each_call_finds_something(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.+?)```", README, re.DOTALL).group(1)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus").symlink_to(CORPUS)
    printed = []
    namespace = {"print": lambda *a: printed.append(a)}
    shown = []
    # Run it statement by statement, keeping what each bare expression (index.search(...)) returns.
    for statement in ast.parse(code).body:
        if isinstance(statement, ast.Expr):
            shown.append((ast.unparse(statement.value), eval(compile(ast.Expression(statement.value), "README.md", "eval"), namespace)))
        else:
            exec(compile(ast.Module([statement], type_ignores=[]), "README.md", "exec"), namespace)
    assert ("note", 0, ["traité"]) in printed
    assert [call.split("(")[0] for call, _ in shown] == ["index.add", "index.search", "index.entities", "index.info"]
    for call, value in shown:
        if isinstance(value, SearchResults):
            assert value.hits, call
            entity = re.search(r'entity="([^"]+)"', call)
            if entity:
                assert all(entity.group(1) in [e.text for e in hit.entities] for hit in value.hits), call
            if "per_doc=True" in call:
                assert len({hit.doc_id for hit in value.hits}) == len(value.hits), call
        elif isinstance(value, (AddReport, IndexInfo)):
            assert value.documents == 2, call
        else:
            assert value, call


def completion_lines() -> dict[str, str]:
    section = README.split("### Shell completion", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.+?)```", section, re.DOTALL).group(1)
    return {re.search(r"=(\w+?)_source", line).group(1): line.split("#")[0].strip() for line in block.splitlines()}


def test_readme_shell_completion_works_in_bash():
    bash = shutil.which("bash")
    executable = Path(sys.executable).parent / "searchlib"
    if bash is None or not executable.exists():
        pytest.skip("needs bash, and the searchlib command installed beside this Python")
    lines = completion_lines()
    assert set(lines) == {"bash", "zsh", "fish"}
    # What a shell does on <Tab>, after the README's line.
    script = lines["bash"] + """
complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _searchlib_completion searchlib; echo "${COMPREPLY[*]}"; }
complete_words searchlib in
complete_words searchlib search traite --for
complete_words searchlib search traite --format ''
complete_words searchlib index --ma
"""
    env = {**os.environ, "PATH": f"{executable.parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([bash, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == ["index info", "--format", "text json", "--max-chars"]
    for shell in ("zsh", "fish"):
        source = subprocess.run([executable], env={**env, "_SEARCHLIB_COMPLETE": f"{shell}_source"},
                                capture_output=True, text=True, timeout=60)
        assert source.returncode == 0 and "_searchlib_completion" in source.stdout, shell


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
