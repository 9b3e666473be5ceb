"""Promises the repository makes: README's commands are the ones CI runs; the CLI starts light."""

import re
import subprocess
import sys

from conftest import ROOT


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```(?:bash|sh)\n(.*?)\n```", text, flags=re.S)


def test_ci_runs_exactly_the_readme_test_command():
    test_command = _readme_commands()[1].strip()
    assert "pytest" in test_command
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines


def test_readme_first_command_installs_and_generates():
    first = _readme_commands()[0]
    assert "pip install" in first and "sketchtool generate" in first


def test_cli_help_imports_no_heavy_library():
    code = (
        "import sys, sketchtool.cli\n"
        "heavy = [m for m in ('torch', 'cairosvg', 'svgelements', 'matplotlib', 'inkex') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_torch_requirement_is_a_range_that_admits_the_local_cpu_wheel():
    pyproject = (ROOT / "pyproject.toml").read_text()
    torch_req = re.search(r'"torch([^"]*)"', pyproject).group(1)
    assert torch_req.startswith(">=") and "<" not in torch_req
