"""The ``glassdyn`` command: the only place that sees every stage."""

from __future__ import annotations

import argparse
import importlib
import sys

import glassdyn

# name -> module under glassdyn.commands; each stage owns its module
COMMANDS = (
    "simulate",
    "quench",
    "cage",
    "info",
    "import",
    "export",
    "convert",
    "train",
    "evaluate",
    "predict",
    "analyze",
    "gen",
    "demo",
)


class _CommandParser(argparse.ArgumentParser):
    """A subcommand's parser: a bad argument is one line naming it and ``--help``, exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glassdyn",
        description="Glassy dynamics: simulate KA glasses, train mobility predictors, "
        "sample configurations, compute dynamic heterogeneity.",
    )
    parser.add_argument("--version", action="version", version=f"glassdyn {glassdyn.__version__}")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_CommandParser
    )
    for name in COMMANDS:
        modname = (
            f"glassdyn.commands.{name}_cmd" if name == "import" else f"glassdyn.commands.{name}"
        )
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name == modname:
                continue  # stage not installed in this build
            raise
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from glassdyn.data.errors import GlassdynError

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        hint = ""
        try:
            float(extra[0])
            hint = "lists of numbers are comma-separated, e.g. --temperatures 0.8,0.64; "
        except ValueError:
            pass
        name = " ".join(
            [args.command] + ([args.gen_command] if getattr(args, "gen_command", None) else [])
        )
        print(
            f"glassdyn {name}: error: unrecognized arguments: {' '.join(extra)} "
            f"({hint}see `glassdyn {name} --help`)",
            file=sys.stderr,
        )
        return 2
    try:
        return int(args._run(args) or 0)
    except GlassdynError as exc:
        text = " ".join(str(exc).split())  # one line, whatever a library's message holds
        print(f"glassdyn {args.command}: error: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"\nglassdyn {args.command}: interrupted; rerun the same command to resume",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
