"""The ``jacstab`` command line: parses options, calls the library, prints rows. No analysis of its own.

Every command takes ``--format table|csv|json|jsonl`` (json: a list of row objects on stdout; jsonl: one object
per line), ``--quiet`` (rows only) and ``--debug`` (tracebacks), also accepted before the command
(``jacstab --debug measure ...``). Errors in the input are one line on stderr (``jacstab: error: ...``) with
exit code 2; any other exception is a bug in jacstab, reported in one line with exit code 1. Rows are written
as each seed finishes, so Ctrl-C keeps everything already printed (the JSON list is closed properly) and exits
with code 130.

Layout: ``_options`` (grouped options, choices from :mod:`jacstab._checks`), ``_common`` (spec, seeds, device,
notes, progress), ``_measure`` (measure, spectrum, lyapunov), ``_certify`` (certify, scalings, theory), ``_lab``
(experiments, sweep, results, report, reproduce), ``_train`` (train), ``_approx`` (approx21), ``_isometry``
(isometry). torch is
imported only when a command runs, not for ``--help``.
"""

from __future__ import annotations

import sqlite3
import sys
import traceback
from collections.abc import Sequence

import click

from jacstab._version import __version__
from jacstab.cli import _approx, _certify, _isometry, _lab, _measure, _train
from jacstab.cli._options import flag_options
from jacstab.output import Terminated, raise_on_sigterm

__all__ = ["cli", "main"]

_NO_ARGS = getattr(click.exceptions, "NoArgsIsHelpError", getattr(click.exceptions, "NoArgsIsHelp", None))
_USER_ERRORS = (ValueError, TypeError, OverflowError)  # bad input, as the library reports it
_ENV_ERRORS = (OSError, sqlite3.Error)  # unwritable output folder, locked or unreadable store, ...


def _with_flags(f):
    for opt in reversed(flag_options()):
        f = opt(f)
    return f


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="\b\nExample:\n  jacstab measure -n 64 -L 20 --seeds 3 --format csv",
)
@click.version_option(__version__, prog_name="jacstab")
@_with_flags
def cli() -> None:
    """jacstab: spectral stability of deep-network Jacobians (Dadoun et al. 2025).

    J = W_L D_{L-1} ... W_1 D_0 is the Jacobian dY_L/dY_0 of the paper's MLP (eq. 1-2). Every command prints
    rows (--format table|csv|json|jsonl); see `jacstab COMMAND --help`.
    """


for _command in (*_measure.COMMANDS, *_isometry.COMMANDS, *_train.COMMANDS, *_certify.COMMANDS, *_lab.COMMANDS,
                 *_approx.COMMANDS):
    cli.add_command(_command)


def _debug_requested(args: Sequence[str]) -> bool:
    """``--debug`` anywhere before a ``--`` separator (the group's or the command's)."""
    args = list(args)
    return "--debug" in (args[: args.index("--")] if "--" in args else args)


def _fail(message: str, code: int, debug: bool) -> None:
    if debug and sys.exc_info()[0] is not None:
        traceback.print_exc(file=sys.stderr)
    else:
        click.echo(f"jacstab: {' '.join(str(message).split())}", err=True)
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: exit 0, 2 (bad input, one line on stderr), 1 (a bug in jacstab), 130 (Ctrl-C)."""
    args = sys.argv[1:] if argv is None else list(argv)
    debug = _debug_requested(args)
    raise_on_sigterm()
    try:
        # `| head`: click exits 1 quietly; obj carries the command line (the report's provenance)
        code = cli.main(args=args, prog_name="jacstab", standalone_mode=False, obj={"argv": args})
    except (KeyboardInterrupt, click.Abort) as e:  # click wraps KeyboardInterrupt (and Terminated) in Abort
        if isinstance(e, Terminated) or isinstance(e.__cause__, Terminated):
            click.echo("jacstab: terminated (SIGTERM); printed rows and stored trials are kept", err=True)
            sys.exit(143)
        click.echo("jacstab: interrupted; printed rows and stored trials are kept", err=True)
        sys.exit(130)
    except click.ClickException as e:
        if _NO_ARGS is not None and isinstance(e, _NO_ARGS):  # bare ``jacstab``: show the help
            click.echo(e.ctx.get_help() if getattr(e, "ctx", None) else e.format_message())
            sys.exit(0)
        _fail(f"error: {e.format_message()}", 2, False)  # a usage error: the traceback is click's, not useful
    except _USER_ERRORS as e:
        _fail(f"error: {e}", 2, debug)
    except _ENV_ERRORS as e:
        _fail(f"error: {type(e).__name__}: {e}", 2, debug)
    except Exception as e:  # anything else is a bug in jacstab
        _fail(f"internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback)", 1, debug)
    sys.exit(code if isinstance(code, int) else 0)
