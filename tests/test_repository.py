"""Promises the repository makes: README's commands are the ones CI runs; the CLI starts light; the test extra
installs what the tests import; README's image is what its caption's command writes."""

import re
import subprocess
import sys
from pathlib import Path

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


def _imported_modules(tree) -> dict[str, int]:
    """Top-level module name -> first line, for every import in a parsed file (also inside functions)."""
    import ast

    found: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.setdefault(alias.name.split(".")[0], node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.setdefault(node.module.split(".")[0], node.lineno)
    return found


def _importorskipped(tree) -> set[str]:
    import ast

    return {node.args[0].value.split(".")[0] for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "importorskip"
            and node.args and isinstance(node.args[0], ast.Constant)}


def test_every_library_the_tests_import_is_in_the_test_extra_or_skipped():
    """`pip install -e '.[test]' && pytest` passes in a fresh venv: a test imports only the standard library,
    the project, its dependencies and test extra, or skips with a reason via pytest.importorskip."""
    import ast
    import importlib.metadata

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the tomli backport, a dependency there
        import tomli as tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0].lower().replace("_", "-")
                for r in [*project["dependencies"], *project["optional-dependencies"]["test"]]}
    distributions = importlib.metadata.packages_distributions()
    trees = {path: ast.parse(path.read_text()) for path in sorted((ROOT / "tests").glob("*.py"))}
    skipped = set().union(*(_importorskipped(t) for t in trees.values()))
    local = {"sketchtool", "conftest", *(path.stem for path in trees)}
    missing = []
    for path, tree in trees.items():
        for module, line in _imported_modules(tree).items():
            if module in sys.stdlib_module_names or module in local or module in skipped:
                continue
            names = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
            if not names & declared:
                missing.append(f"{path.name}:{line} imports {module} ({', '.join(sorted(names))})")
    assert not missing, "add to the test extra or pytest.importorskip: " + "; ".join(missing)


def test_readme_image_is_what_its_caption_command_writes(tmp_path):
    """The caption's command, run again (writing elsewhere), gives an image of the committed image's size."""
    import shlex

    from click.testing import CliRunner
    from PIL import Image

    from sketchtool.cli import cli

    text = (ROOT / "README.md").read_text()
    images = re.findall(r"!\[[^\]]*\(`(sketchtool [^`]+)`\)\]\(([^)]+\.png)\)", text)
    assert images, "README shows an image captioned with the command that made it"
    for command, image in images:
        args = shlex.split(command)[1:]
        assert "--out" in args, f"{command!r} must name the image it writes"
        out = args.index("--out") + 1
        assert args[out] == image, f"{command!r} must write {image}"
        args[out] = str(tmp_path / Path(image).name)
        done = CliRunner().invoke(cli, args)
        assert done.exit_code == 0, done.output
        with Image.open(ROOT / image) as committed, Image.open(args[out]) as fresh:
            assert committed.size == fresh.size, f"{image} is {committed.size}; {command!r} writes {fresh.size}"
