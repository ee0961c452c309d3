"""The command line: one subcommand per module, each a `register` function.

A command module defines `register(subparsers)`, which adds its parser and
sets `handler` to a function taking the parsed arguments and returning the
exit status. User errors raise `CommandError` (or `ValueError`, `OSError`)
and end as a one-line message on standard error with exit status 2. An
unusable weights file gets its plain advice, then the technical detail.
"""

import argparse
import importlib
import sys

from engine.weights import WeightsError

# Modules that add subcommands, in the order `--help` lists them.
COMMAND_MODULES: list[str] = [
    "engine.cli_train",
    "engine.cli_weights",
    "engine.cli_predict",
    "engine.cli_saliency",
    "engine.cli_bench",
    "engine.cli_tinyvgg",
]

USAGE_ERROR = 2


class CommandError(Exception):
    """A mistake in the arguments or the files given, shown without a traceback."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m engine",
                     description="The NumPy engine of the explainer.")
    subparsers = parser.add_subparsers(title="commands", dest="command",
                                       required=True, parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except OSError as error:
        # "[Errno 2] No such file or directory: 'x'" becomes "x: No such ..."
        where = error.filename if error.filename is not None else ""
        reason = error.strerror or str(error)
        print(f"error: {where}: {reason}" if where else f"error: {reason}",
              file=sys.stderr)
        return USAGE_ERROR
    except WeightsError as error:
        print(f"error: {error.terminal_message()}", file=sys.stderr)
        return USAGE_ERROR
    except (CommandError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
