"""The ``neurocompare`` command line: the parser and the error handling of every command."""

from __future__ import annotations

import argparse
import os
import sys

from sim.cli import info, run, study
from sim.errors import ValidationError
from sim.version import __version__

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neurocompare", description="One neuron-and-connection substrate, two "
                                     "ways to learn: run, study and compare a backprop MLP and a Hebbian network.")
    parser.add_argument("--version", action="version", version=f"neurocompare {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    info.add_parsers(sub)
    run.add_parser(sub)
    study.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValidationError as exc:
        print(f"neurocompare: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("neurocompare: interrupted (stored runs are kept; run the same command again to "
              "resume)", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
