"""`sketchtool inkscape install|uninstall`: put the Extensions ▸ Sketchtool menu into Inkscape."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["COMMANDS", "inkscape"]

_DEST = click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Inkscape extensions folder (default: found from INKSCAPE_PROFILE_DIR, "
    "`inkscape --user-data-directory` or the platform's profile folder).",
)


@click.group()
def inkscape() -> None:
    """The Inkscape extension: Extensions ▸ Sketchtool ▸ Complete drawing / Generate sketches / Interpolate.

    \b
    Example:
      sketchtool inkscape install     # then restart Inkscape
    """


@inkscape.command()
@_DEST
def install(dest: Path | None) -> None:
    """Copy the extension into Inkscape and make it run this environment's sketchtool.

    \b
    Examples:
      sketchtool inkscape install
      sketchtool inkscape install --dest ~/.config/inkscape/extensions
    """
    from sketchtool.inkscape_install import install_extension

    target = install_extension(dest)
    click.echo(f"Installed the Inkscape extension in {target}; restart Inkscape and look under Extensions ▸ Sketchtool.")


@inkscape.command()
@_DEST
def uninstall(dest: Path | None) -> None:
    """Remove the extension installed by `sketchtool inkscape install` (files you added there stay).

    \b
    Example:
      sketchtool inkscape uninstall
    """
    from sketchtool.inkscape_install import uninstall_extension

    removed = uninstall_extension(dest)
    if removed is None:
        click.echo("The Inkscape extension was not installed; nothing to remove.")
    elif removed.exists():
        kept = ", ".join(sorted(p.name for p in removed.iterdir()))
        click.echo(f"Removed the Inkscape extension from {removed}; kept the files not installed by sketchtool: {kept}.")
    else:
        click.echo(f"Removed {removed}.")


COMMANDS = [inkscape]
