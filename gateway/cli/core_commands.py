"""Core sub-commands: ``serve``, ``validate`` and ``simulate``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gateway.settings import Settings


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    serve = subparsers.add_parser("serve", help="run the gateway (HTTP callbacks, SMPP binds)")
    serve.add_argument("--host", help="listen address (default GATEWAY_HOST)")
    serve.add_argument("--port", type=int, help="listen port (default GATEWAY_PORT)")
    serve.set_defaults(func=_serve)

    validate = subparsers.add_parser("validate", help="check a menu tree; exit 1 on problems")
    validate.add_argument("path", nargs="?", type=Path, help="tree file (default GATEWAY_MENUS)")
    validate.add_argument("--content", type=Path, help="catalog folder (default GATEWAY_CONTENT)")
    validate.add_argument("--limit", type=int, help="screen limit in septets (default 182)")
    validate.set_defaults(func=_validate)

    simulate = subparsers.add_parser(
        "simulate", help="dial the tree from a terminal (a running gateway, or in-process)"
    )
    simulate.add_argument("--url", help="a running gateway's base URL, e.g. http://127.0.0.1:8080")
    simulate.add_argument("--script", type=Path, help="replay a scripted session; fail on mismatch")
    # Ofcom reserves +44 7700 900000-900999 for drama: a number nobody holds.
    simulate.add_argument(
        "--phone", default="+447700900001", type=_phone_number, help="caller number to present"
    )
    simulate.add_argument("--network", default="", help="networkCode (MCC+MNC), e.g. 63902")
    simulate.set_defaults(func=_simulate)


def _phone_number(raw: str) -> str:
    """A number typed on the command line, as E.164 (in any script's digits)."""
    from gateway.privacy.phone_numbers import to_e164

    number = to_e164(raw)
    if number is None:
        raise argparse.ArgumentTypeError("not a phone number (use the international form, +...)")
    return number


def _serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from gateway.menu.loader import TreeError
    from gateway.observability.access_log import PathOnlyAccessLogger
    from gateway.observability.logs import configure
    from gateway.server.app import create_app

    settings = Settings.from_env()
    configure(settings.log_format, settings.log_level, cache=True)
    host = args.host or settings.host
    port = args.port or settings.port
    print(
        f"gateway: serving on http://{host}:{port}; the callback secret is GATEWAY_CALLBACK_SECRET"
        f" or, on embedded defaults, in {settings.data_dir / 'keys.json'}",
        file=sys.stderr,
    )
    try:
        web.run_app(
            create_app(settings),
            host=host,
            port=port,
            access_log_class=PathOnlyAccessLogger,
            print=None,
            handle_signals=True,
        )
    except TreeError as exc:
        print(f"gateway: the menu tree does not validate; not serving it:\n{exc}", file=sys.stderr)
        return 1
    return 0


def _validate(args: argparse.Namespace) -> int:
    from gateway.menu.pages import Limit
    from gateway.menu.validator import check_file, voice_warnings
    from gateway.server.live_tree import tree_file

    settings = Settings.from_env()
    path = args.path or tree_file(settings)
    limit = Limit(args.limit or settings.screen_limit)
    tree, problems = check_file(path, args.content or settings.content, limit)
    for problem in problems:
        print(problem)
    if problems or tree is None:
        print(f"{path}: {len(problems)} problem(s); this tree would not go live")
        return 1
    for warning in voice_warnings(tree, settings.voice_max_seconds):
        print(f"warning: {warning}")
    print(f"{path}: OK ({len(tree.screens)} screens, languages {', '.join(tree.languages)})")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from gateway.cli.simulate import run

    code: int = run(args)
    return code
