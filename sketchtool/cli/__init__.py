"""The `sketchtool` command: a click group whose commands live in sibling modules, one per area.

Keep this import light: `sketchtool --help` must not import torch, cairosvg or svgelements.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys

import click

from sketchtool import __version__
from sketchtool.errors import SketchtoolError

__all__ = ["main", "cli", "exit_process"]

# each module defines click commands and a `COMMANDS` list of them
COMMAND_MODULES = [
    "sketchtool.cli.data",      # build-dataset, info, show
    "sketchtool.cli.images",    # rasterize
    "sketchtool.cli.training",  # train, eval, curves
    "sketchtool.cli.sampling",  # generate, complete, interpolate, analogy, reconstruct, models
    "sketchtool.cli.plotting",  # plot
    "sketchtool.cli.inkscape",  # inkscape install / uninstall
    "sketchtool.cli.serve",     # serve (the local drawing page)
    "sketchtool.cli.score",     # score
    "sketchtool.cli.vectorize",  # vectorize
    "sketchtool.cli.battle",    # battle (GAM)
]


class _Group(click.Group):
    """Turns every failure into one line on stderr and a non-zero exit; `--debug` shows tracebacks."""

    def invoke(self, ctx: click.Context):
        debug = bool(ctx.params.get("debug")) or os.environ.get("SKETCHTOOL_DEBUG") == "1"
        try:
            return super().invoke(ctx)
        except click.UsageError as e:  # click's own is three lines: usage, a hint and the error
            where = e.ctx.command_path if e.ctx is not None else ctx.command_path
            raise _UsageLine(f"{e.format_message()} (see {where} --help)") from None
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, BrokenPipeError):
            raise  # click reports these itself (a broken pipe quietly, as Unix tools do)
        except SketchtoolError as e:
            if debug:
                raise
            raise click.ClickException(_first_line(e) or type(e).__name__) from None
        except KeyboardInterrupt as e:
            click.echo("Terminated." if isinstance(e, Terminated) else "Interrupted.", err=True)
            ctx.exit(143 if isinstance(e, Terminated) else 130)
        except (MemoryError, OSError) as e:
            if debug:
                raise
            raise click.ClickException(f"{type(e).__name__}: {_first_line(e)}") from None
        except Exception as e:  # a bug of ours: still one line (torch's carry a C++ stack), with the way to see more
            if debug:
                raise
            click.echo(f"Error: internal error ({type(e).__name__}: {_first_line(e)}); rerun with --debug and report it",
                       err=True)
            ctx.exit(3)


class _UsageLine(click.ClickException):
    """A usage error (a bad option value, a missing argument) as one line, with click's exit status 2."""

    exit_code = 2


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="sketchtool")
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
def cli(debug: bool) -> None:
    """Teach a model your own line drawings and get new ones back as clean vectors.

    \b
    Quick start (uses the embedded sheep model):
      sketchtool generate --n 50 --out grid.svg
    Your own drawings:
      sketchtool build-dataset my_svgs/ -o my.npz
      sketchtool train my.npz -o runs/my --preset small --minutes 20
      sketchtool generate --model runs/my --n 20 --out mine.png
    """


for _name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as _e:  # an area not built yet
        if _e.name != _name:
            raise
        continue
    for _command in _module.COMMANDS:
        cli.add_command(_command)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a `kill`, a scheduler's stop), raised in the main thread as Ctrl-C is: open atomic writes remove
    their temporary files and the command ends in one line, with the shell's 143. Without it Python died at once,
    leaving a half-written temporary file beside the output."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)  # train and serve put their own in place while they run
    try:
        cli(prog_name="sketchtool")
    except SystemExit as done:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1 and "torch.distributed" in sys.modules:
            exit_process(done.code)
        raise


def exit_process(code) -> None:
    """End a torchrun worker without the interpreter's teardown: once a run has left its process group, torch's
    C++ objects still died at exit now and then ("terminate called without an active exception", SIGABRT; 1 of
    95 looped two-process runs here, and 2 full test runs; see pytorch/pytorch#190489), and torchrun then reported a finished, saved run as failed.
    Everything is written by now (atomic writes are closed); only the standard streams need flushing."""
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


if __name__ == "__main__":
    sys.exit(main())
