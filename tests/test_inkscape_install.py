"""`sketchtool inkscape install|uninstall` and the plugin files it ships (.inx validity, shipped copy)."""

from __future__ import annotations

import contextlib
import filecmp
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sketchtool.cli import cli
from sketchtool.errors import SketchtoolError
from sketchtool.inkscape_install import (
    ENV_FILE,
    PLUGIN_DIR,
    PLUGIN_FILES,
    install_extension,
    uninstall_extension,
    user_extensions_dir,
)

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ROOT / "plugins" / "inkscape"
INX_FILES = sorted(PLUGINS.glob("*.inx"))
SYSTEM_RNG = Path("/usr/share/inkscape/extensions/inkscape.extension.rng")
NEEDS_INKEX = "needs inkex: pip install --no-deps inkex==1.4.1 && pip install cssselect tinycss2"


def test_plugins_folder_shows_exactly_the_shipped_plugin():
    """The package ships the plugin (package data) so `install` works from a wheel; plugins/inkscape/ links to it."""
    in_repo = sorted(p.name for p in PLUGINS.iterdir() if p.is_file())
    assert in_repo == sorted(PLUGIN_FILES)
    _, mismatch, errors = filecmp.cmpfiles(PLUGINS, PLUGIN_DIR, PLUGIN_FILES, shallow=False)
    assert not mismatch and not errors, mismatch + errors


def test_install_copies_plugin_and_records_this_python(tmp_path):
    target = install_extension(tmp_path)
    assert target == tmp_path / "sketchtool"
    for name in PLUGIN_FILES:
        assert (target / name).read_bytes() == (PLUGINS / name).read_bytes()
        assert (target / name).stat().st_mode & 0o777 == 0o644  # readable when Inkscape runs as another user
    record = json.loads((target / ENV_FILE).read_text())
    assert record["command"] == [str(Path(sys.executable).absolute()), "-m", "sketchtool"]
    done = subprocess.run([*record["command"], "--version"], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "sketchtool" in done.stdout


def test_reinstall_replaces_and_uninstall_removes(tmp_path):
    target = install_extension(tmp_path)
    (target / "sketchtool_inkscape.py").write_text("stale")
    install_extension(tmp_path)
    assert (target / "sketchtool_inkscape.py").read_bytes() == (PLUGINS / "sketchtool_inkscape.py").read_bytes()
    assert uninstall_extension(tmp_path) == target
    assert not target.exists() and tmp_path.is_dir()
    assert uninstall_extension(tmp_path) is None


def test_a_foreign_sketchtool_folder_is_never_overwritten_or_removed(tmp_path):
    foreign = tmp_path / "sketchtool"
    foreign.mkdir()
    (foreign / "sketchtool_inkscape.py").write_text("another plugin's script")
    with pytest.raises(SketchtoolError, match="not installed by sketchtool"):
        install_extension(tmp_path)
    with pytest.raises(SketchtoolError, match="not installed by sketchtool"):
        uninstall_extension(tmp_path)
    assert (foreign / "sketchtool_inkscape.py").read_text() == "another plugin's script"


def test_uninstall_keeps_files_the_user_put_in_the_folder(tmp_path):
    """uninstall removed the whole folder, a user's own .inx with it."""
    target = install_extension(tmp_path)
    (target / "my_own.inx").write_text("keep me")
    result = CliRunner().invoke(cli, ["inkscape", "uninstall", "--dest", str(tmp_path)])
    assert result.exit_code == 0 and "kept the files not installed by sketchtool: my_own.inx" in result.output
    assert sorted(p.name for p in target.iterdir()) == ["my_own.inx"]
    assert (target / "my_own.inx").read_text() == "keep me"
    assert uninstall_extension(tmp_path) is None  # nothing of ours is left to remove
    assert install_extension(tmp_path) == target  # and it installs again beside the user's file
    assert (target / ENV_FILE).is_file() and (target / "my_own.inx").read_text() == "keep me"


def test_extensions_dir_prefers_inkscape_profile_dir(tmp_path):
    env = {"INKSCAPE_PROFILE_DIR": str(tmp_path / "profile"), "HOME": str(tmp_path)}
    assert user_extensions_dir(env, "linux", inkscape=None) == tmp_path / "profile" / "extensions"


@pytest.mark.parametrize(
    "platform, env, expected",
    [
        ("linux", {"HOME": "/home/u"}, "/home/u/.config/inkscape/extensions"),
        ("linux", {"HOME": "/home/u", "XDG_CONFIG_HOME": "/xdg"}, "/xdg/inkscape/extensions"),
        ("darwin", {"HOME": "/Users/u"},
         "/Users/u/Library/Application Support/org.inkscape.Inkscape/config/inkscape/extensions"),
        ("win32", {"HOME": "C:/Users/u", "APPDATA": "C:/Users/u/AppData/Roaming"},
         "C:/Users/u/AppData/Roaming/inkscape/extensions"),
    ],
)
def test_extensions_dir_platform_defaults_without_inkscape(platform, env, expected):
    assert user_extensions_dir(env, platform, inkscape=None) == Path(expected)


@pytest.mark.skipif(shutil.which("inkscape") is None, reason="needs inkscape on PATH (apt-get install inkscape)")
def test_extensions_dir_asks_the_installed_inkscape(tmp_path, monkeypatch):
    monkeypatch.setenv("INKSCAPE_PROFILE_DIR", str(tmp_path))  # Inkscape itself honours it too
    reported = subprocess.run(["inkscape", "--user-data-directory"], check=True, capture_output=True, text=True,
                              timeout=60)
    assert Path(reported.stdout.strip()) == tmp_path
    env = {"HOME": "/nonexistent"}
    assert user_extensions_dir(env, "linux", inkscape=shutil.which("inkscape")) == tmp_path / "extensions"
    assert user_extensions_dir(env, "linux", inkscape="/nonexistent/inkscape") == Path(
        "/nonexistent/.config/inkscape/extensions")


def test_cli_install_and_uninstall(tmp_path):
    runner = CliRunner()
    done = runner.invoke(cli, ["inkscape", "install", "--dest", str(tmp_path)])
    assert done.exit_code == 0, done.output
    assert "Extensions ▸ Sketchtool" in done.output and (tmp_path / "sketchtool" / ENV_FILE).is_file()
    done = runner.invoke(cli, ["inkscape", "uninstall", "--dest", str(tmp_path)])
    assert done.exit_code == 0 and not (tmp_path / "sketchtool").exists()
    done = runner.invoke(cli, ["inkscape", "uninstall", "--dest", str(tmp_path)])
    assert done.exit_code == 0 and "nothing to remove" in done.output


def test_cli_install_uses_inkscape_profile_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("INKSCAPE_PROFILE_DIR", str(tmp_path))
    done = CliRunner().invoke(cli, ["inkscape", "install"])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "extensions" / "sketchtool" / "sketchtool_complete.inx").is_file()


def test_cli_install_into_unwritable_place_is_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = CliRunner().invoke(cli, ["inkscape", "install", "--dest", str(blocker / "sub")])
    assert done.exit_code != 0
    assert done.output.startswith("Error:") and len(done.output.strip().splitlines()) == 1
    assert "Traceback" not in done.output


def _relax_ng():
    from lxml import etree

    if SYSTEM_RNG.is_file():
        return etree.RelaxNG(etree.parse(str(SYSTEM_RNG)))
    inkex = pytest.importorskip("inkex", reason=NEEDS_INKEX)
    shipped = Path(inkex.__file__).parent / "tester" / "inkscape.extension.rng"
    if not shipped.is_file():
        pytest.skip("no inkscape.extension.rng: install Inkscape or inkex>=1.2")
    return etree.RelaxNG(etree.parse(str(shipped)))


@pytest.mark.parametrize("inx", INX_FILES, ids=lambda p: p.name)
def test_inx_validates_against_inkscape_schema(inx):
    from lxml import etree

    schema = _relax_ng()
    assert schema.validate(etree.parse(str(inx))), schema.error_log


@pytest.mark.filterwarnings("ignore:The \\(non-ISO\\) Schematron:DeprecationWarning")
@pytest.mark.parametrize("inx", INX_FILES, ids=lambda p: p.name)
def test_inx_passes_inkex_checks(inx, monkeypatch):
    """inkex's own checks (class found, schema), plus the per-file param check inkex skips for a
    `multi_inx` script: every .inx param exists in the script with the same type and default."""
    pytest.importorskip("inkex", reason=NEEDS_INKEX)
    from inkex.inx import InxFile
    from inkex.tester.inx import InxMixin

    class Check(InxMixin):
        def assertTrue(self, value, msg=None):  # noqa: N802 (inkex's unittest-style names)
            assert value, msg

        def assertEqual(self, a, b, msg=None):  # noqa: N802
            assert a == b, msg

        def subTest(self, **_):  # noqa: N802
            return contextlib.nullcontext()

    monkeypatch.chdir(PLUGINS)  # inkex imports the script relative to the .inx
    Check().assertInxIsGood(str(inx))
    Check().assertInxSchemaValid(str(inx))
    parsed = InxFile(str(inx))
    assert parsed.menu[:-1] == ["Sketchtool"]
    args = dict(Check().introspect_arg_parser(parsed.extension_class().arg_parser))
    for param in parsed.params:
        expected = Check.parse_param(param)
        assert param.name in args, f"{inx.name}: --{param.name} missing from the script"
        actual = args[param.name]
        if expected["type"]:
            assert actual["type"] == expected["type"], param.name
            if expected["default"]:
                assert float(expected["default"]) == actual["default"] if actual["type"] in ("int", "float") \
                    else expected["default"] == actual["default"], param.name
        if expected["choices"]:
            assert set(expected["choices"]) <= set(actual["choices"]), param.name
            if param.name != "verb":
                assert expected["default"] == actual["default"], param.name
