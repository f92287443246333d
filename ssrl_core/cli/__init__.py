"""The `ssrl` command line. Each sub-module registers its own sub-commands.

With `--json`, a command prints exactly one JSON object on stdout; errors go to stderr with a
non-zero exit status. The app calls the same `ssrl_core` functions as these commands. Expected
problems, including what the operating system refuses (a full disk, a read-only folder, a file
where a folder is needed, too little memory), are one plain line (`ssrl_core.oserrors.plain`),
never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ssrl_core.cli._common import run_handler

# Sub-modules that each define `register(subparsers)`; a handler returns an exit code.
_COMMAND_MODULES = ("setup_cmd", "data_cmds", "lpips_cmd", "train_cmds", "eval_cmds", "bias_cmds",
                    "profile_cmds",
                    "class_cmds", "recipe_cmds", "demo_cmd")


def build_parser() -> argparse.ArgumentParser:
    """The whole `ssrl` parser, built from every command module that is present."""
    parser = argparse.ArgumentParser(prog="ssrl", description="Self-supervised learning for microscopy.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"ssrl_core.cli.{name}")
        except ModuleNotFoundError as exc:  # a command module not written yet
            if exc.name == f"ssrl_core.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `ssrl` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_handler(args)


if __name__ == "__main__":
    sys.exit(main())
