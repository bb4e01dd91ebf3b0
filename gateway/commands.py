"""Core sub-commands: serve, validate, simulate."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    serve = subparsers.add_parser("serve", help="run the gateway (HTTP callbacks, SMPP binds)")
    serve.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    raise NotImplementedError
