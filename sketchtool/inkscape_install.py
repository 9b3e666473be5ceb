"""Installing the Inkscape extension: finding the user's extensions folder, copying the plugin and
recording which Python runs `sketchtool` (Inkscape runs extensions with its own interpreter)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from sketchtool import __version__
from sketchtool.errors import SketchtoolError
from sketchtool.fileio import atomic_write

__all__ = [
    "PLUGIN_DIR",
    "PLUGIN_FILES",
    "INSTALL_FOLDER",
    "ENV_FILE",
    "user_extensions_dir",
    "install_extension",
    "uninstall_extension",
]

# shipped with the package (so a wheel can install it); plugins/inkscape/ holds links to these files
PLUGIN_DIR = Path(__file__).resolve().parent / "inkscape_plugin"
PLUGIN_FILES = (
    "sketchtool_inkscape.py",
    "sketchtool_complete.inx",
    "sketchtool_generate.inx",
    "sketchtool_interpolate.inx",
)
INSTALL_FOLDER = "sketchtool"  # created inside the extensions folder; Inkscape scans subfolders
ENV_FILE = "sketchtool_env.json"  # read by the script: how to start sketchtool; also marks the folder as ours
# where the official installers put Inkscape when it is not on PATH
INKSCAPE_LOCATIONS = ("/Applications/Inkscape.app/Contents/MacOS/inkscape",
                      r"C:\Program Files\Inkscape\bin\inkscape.exe")


def user_extensions_dir(
    env: Mapping[str, str] | None = None, platform: str | None = None, inkscape: str | None = "auto"
) -> Path:
    """The folder where Inkscape looks for the user's extensions.

    In order: `$INKSCAPE_PROFILE_DIR/extensions` (Inkscape's own override), what the installed
    `inkscape --user-data-directory` reports (`inkscape`: its path, "auto" to look on PATH and in the
    installers' default places, None not to ask), then the platform's default profile location.
    """
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if env.get("INKSCAPE_PROFILE_DIR"):
        return Path(env["INKSCAPE_PROFILE_DIR"]) / "extensions"
    if inkscape == "auto":
        inkscape = shutil.which("inkscape") or next((p for p in INKSCAPE_LOCATIONS if Path(p).is_file()), None)
    if inkscape:
        reported = _ask_inkscape(inkscape)
        if reported is not None:
            return reported / "extensions"
    return _default_profile_dir(env, platform) / "extensions"


def install_extension(dest: str | os.PathLike | None = None, python: str | None = None) -> Path:
    """Copy the plugin into `dest` (default: the user's extensions folder) as a `sketchtool/` folder
    and record `python` (default: this interpreter) as the one that runs `python -m sketchtool`.

    Reinstalling replaces an earlier install; a `sketchtool/` folder with another plugin's files of our names is
    refused, and files of other names in it stay.
    Returns the folder written.
    """
    extensions = Path(dest) if dest is not None else user_extensions_dir()
    target = extensions / INSTALL_FOLDER
    python = python or sys.executable
    if not python or not Path(python).is_file():
        raise SketchtoolError(f"{python or '(unknown)'}: cannot locate the Python that runs sketchtool; "
                              "run `python -m sketchtool inkscape install` with the environment's python")
    missing = [name for name in PLUGIN_FILES if not (PLUGIN_DIR / name).is_file()]
    if missing:
        raise SketchtoolError(f"{PLUGIN_DIR}: the plugin files {', '.join(missing)} are missing; reinstall sketchtool")
    _refuse_foreign_folder(target)
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in PLUGIN_FILES:
            with atomic_write(target / name, "wb") as f:
                f.write((PLUGIN_DIR / name).read_bytes())
        record = {"command": [str(Path(python).absolute()), "-m", "sketchtool"], "version": __version__}
        with atomic_write(target / ENV_FILE, "w") as f:
            json.dump(record, f, indent=2)
        for name in (*PLUGIN_FILES, ENV_FILE):
            (target / name).chmod(0o644)  # temporary files are private; Inkscape may run as another user
    except OSError as e:
        raise SketchtoolError(f"{target}: cannot install the Inkscape extension there ({e.strerror}); "
                              "pass --dest with a writable extensions folder") from None
    return target


def uninstall_extension(dest: str | os.PathLike | None = None) -> Path | None:
    """Remove the files `install_extension` wrote from the `sketchtool/` folder in `dest` (default: the user's
    extensions folder), then the folder if nothing else is left: a file the user put there stays.

    Returns the folder uninstalled (it still exists when it holds other files), or None when nothing was installed
    (no folder, or none that an install of ours wrote).
    """
    extensions = Path(dest) if dest is not None else user_extensions_dir()
    target = extensions / INSTALL_FOLDER
    _refuse_foreign_folder(target)
    if not (target / ENV_FILE).is_file():
        return None
    try:
        for name in (*PLUGIN_FILES, ENV_FILE):
            (target / name).unlink(missing_ok=True)
        if not any(target.iterdir()):
            target.rmdir()
    except OSError as e:
        raise SketchtoolError(f"{target}: cannot remove the Inkscape extension ({e.strerror}); "
                              "remove it by hand") from None
    return target


def _refuse_foreign_folder(target: Path) -> None:
    """Refuse a folder holding files named as ours that no install of ours wrote (another plugin's): they would be
    overwritten or removed. Other files (a user's own .inx, kept by uninstall) are left beside ours."""
    if (target / ENV_FILE).is_file():
        return
    clashes = [name for name in PLUGIN_FILES if (target / name).exists()]
    if clashes:
        raise SketchtoolError(f"{target} holds {', '.join(clashes)} but was not installed by sketchtool; "
                              "move it away or pass another --dest")


def _ask_inkscape(inkscape: str) -> Path | None:
    """`inkscape --user-data-directory` (fast: it answers without starting the GUI); None if it fails."""
    try:
        done = subprocess.run([inkscape, "--user-data-directory"], check=False, capture_output=True, text=True,
                              timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        return None
    return Path(lines[-1])


def _default_profile_dir(env: Mapping[str, str], platform: str) -> Path:
    """Inkscape 1.x's profile folder when Inkscape cannot be asked (not on PATH, e.g. the macOS app)."""
    home = Path(env.get("HOME") or Path.home())
    if platform.startswith("win"):
        return Path(env.get("APPDATA") or home / "AppData" / "Roaming") / "inkscape"
    if platform == "darwin":
        return home / "Library" / "Application Support" / "org.inkscape.Inkscape" / "config" / "inkscape"
    return Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "inkscape"
