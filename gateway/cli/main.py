"""The ``gateway`` command: one sub-command per operator task.

Each area of the package contributes its sub-commands through an ``add_commands``
function listed in ``COMMAND_MODULES``, so this module stays a small index.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from gateway.settings import SettingsError

# Modules that define ``add_commands(subparsers) -> None``; each command's parser sets
# ``func`` to a callable taking the parsed namespace and returning an exit code.
COMMAND_MODULES: tuple[str, ...] = (
    "gateway.cli.core_commands",
    "gateway.cli.alert_commands",
    "gateway.privacy.key_rotation",
    "gateway.cli.user_commands",
    "gateway.cli.publish_commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateway",
        description="USSD/SMS information gateway for people on the move.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(module_name)
        module.add_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except SettingsError as exc:
        print(f"gateway: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code
