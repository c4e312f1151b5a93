"""The ``gaitfm`` command line.

Each subcommand lives in its own module ``gaitcore/cli/cmd_<name>.py`` and defines

* ``NAME`` (the subcommand, e.g. ``"import"``) and ``HELP`` (one line),
* ``add_arguments(parser)`` and
* ``run(args) -> int`` (the exit code).

Modules are discovered automatically. A command module imports nothing heavy at module level
(torch, scipy, ...): heavy imports go inside ``run`` so that ``gaitfm --help`` stays fast and the data
layer stays usable without torch.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from .. import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gaitfm",
        description="Gait foundation-model toolkit: import, inspect, synthesise, train, evaluate.",
    )
    parser.add_argument("--version", action="version", version=f"gaitfm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("cmd_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    return int(args._run(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
