"""``gateway user add|passwd|disable|role``: manage console accounts from a shell.

Roles per service (several trees in ``menus/``): ``gateway user add carol --role none
--service work-rights=approver`` makes an account that sees the work-rights service
only, as approver; ``gateway user role carol safe-journey=editor work-rights=none``
changes them later (``SERVICE=account`` drops the service's own role, so the account's
role applies there again). Services are named by their tree id; admins are global.

This is how the first admin is created. A password is read from a prompt (typed
twice, not echoed) or, with ``--password-stdin``, from the first line of standard
input; never from the command line, where it would sit in the shell history and the
process list.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time
from typing import Any

from gateway.cli.service_option import service_keys
from gateway.console.passwords import PasswordPolicyError, Passwords, check_policy
from gateway.console.roles import parse_role
from gateway.errors import GatewayError
from gateway.observability.logs import configure as configure_logging
from gateway.settings import Settings
from gateway.store.port import Store, StoreError


class CommandError(GatewayError):
    """A user-facing failure: printed, exit code 1."""


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    user = subparsers.add_parser("user", help="manage operator console accounts")
    actions = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="create an account")
    add.add_argument("username")
    add.add_argument(
        "--role",
        default="editor",
        help="admin, editor, approver (on every service), or none (only the services "
        "given with --service)",
    )
    add.add_argument(
        "--service",
        action="append",
        default=[],
        metavar="SERVICE=ROLE",
        help="a role on one service (tree id): editor, approver or none; repeatable",
    )
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(func=lambda args: _run(_add, args))

    role = actions.add_parser("role", help="set an account's roles per service")
    role.add_argument("username")
    role.add_argument(
        "assignments",
        nargs="+",
        metavar="SERVICE=ROLE",
        help="editor, approver, none, or 'account' (the account's own role applies)",
    )
    role.set_defaults(func=lambda args: _run(_role, args))

    passwd = actions.add_parser("passwd", help="set a new password (and enable the account)")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true")
    passwd.set_defaults(func=lambda args: _run(_passwd, args))

    disable = actions.add_parser("disable", help="stop an account from signing in")
    disable.add_argument("username")
    disable.set_defaults(func=lambda args: _run(_disable, args))


def _run(action: Any, args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    # Log lines (the audit checkpoint among them) to stderr, as the other commands.
    configure_logging(settings.log_format, settings.log_level)
    try:
        asyncio.run(action(args, settings))
    except (CommandError, StoreError) as exc:
        print(f"gateway user: {exc}", file=sys.stderr)
        return 1
    return 0


def read_password(username: str, from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"New password for {username}: ")
        if getpass.getpass("Type it again: ") != password:
            raise CommandError("the two passwords differ")
    try:
        check_policy(password, username)
    except PasswordPolicyError as exc:
        raise CommandError(str(exc)) from exc
    return password


async def _open(settings: Settings) -> Store:
    """The store of ``settings.db_url``: SQLite by path, PostgreSQL by URL."""
    from gateway.store.audit_anchor import audit_seal
    from gateway.store.sql_store import open_store

    return await open_store(settings.db_url, audit=audit_seal(settings))


def parse_assignments(
    assignments: list[str], keys: dict[str, str], allow_account: bool
) -> list[tuple[str, str, str | None]]:
    """``SERVICE=ROLE`` words -> (tree id, store key, role or None), or a clear error."""
    parsed: list[tuple[str, str, str | None]] = []
    for word in assignments:
        service, _, role = word.partition("=")
        service, role = service.strip(), role.strip().lower()
        if service not in keys:
            known = ", ".join(sorted(keys))
            raise CommandError(f"no service {service!r} (the services: {known})")
        if allow_account and role == "account":
            parsed.append((service, keys[service], None))
        elif role in ("editor", "approver", "none"):
            parsed.append((service, keys[service], role))
        else:
            raise CommandError(
                f"{word!r}: a role per service is editor, approver or none"
                + (", or account" if allow_account else "")
                + " (admins are admins everywhere)"
            )
    return parsed


async def _role(args: argparse.Namespace, settings: Settings) -> None:
    wanted = parse_assignments(args.assignments, service_keys(settings), allow_account=True)
    store = await _open(settings)
    try:
        account = await store.get_operator(args.username)
        if account is None:
            raise CommandError(f"no account {args.username!r}")
        now = time.time()
        for service, key, role in wanted:
            if await store.set_service_role(args.username, key, role):
                await store.append_audit(
                    "cli",
                    "user_service_role",
                    f"operator:{args.username}",
                    {"service": service, "role": role or "account"},
                    now,
                    service=key,
                )
    finally:
        await store.close()
    print(f"roles of {args.username}: " + ", ".join(f"{s}={r or 'account'}" for s, _, r in wanted))


async def _add(args: argparse.Namespace, settings: Settings) -> None:
    try:
        role = parse_role(args.role)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    per_service = (
        parse_assignments(args.service, service_keys(settings), allow_account=False)
        if args.service
        else []
    )
    username = args.username.strip()
    if not username or len(username) > 64 or not username.isprintable():
        raise CommandError("a username is 1 to 64 printable characters")
    password = read_password(username, args.password_stdin)
    store = await _open(settings)
    try:
        if await store.get_operator(username) is not None:
            raise CommandError(f"{username!r} already exists (use 'gateway user passwd')")
        now = time.time()
        await store.create_operator(username, Passwords().hash(password), role.value, now)
        await store.append_audit("cli", "user_add", f"operator:{username}", {"role": role}, now)
        for service, key, service_role in per_service:
            await store.set_service_role(username, key, service_role)
            await store.append_audit(
                "cli",
                "user_service_role",
                f"operator:{username}",
                {"service": service, "role": service_role},
                now,
                service=key,
            )
    finally:
        await store.close()
    roles = "".join(f", {service}={service_role}" for service, _, service_role in per_service)
    print(f"created {username} ({role.value}{roles})")


async def _passwd(args: argparse.Namespace, settings: Settings) -> None:
    password = read_password(args.username, args.password_stdin)
    store = await _open(settings)
    try:
        now = time.time()
        changed = await store.update_operator(
            args.username, now, password_hash=Passwords().hash(password), disabled=False
        )
        if not changed:
            raise CommandError(f"no account {args.username!r}")
        await store.append_audit("cli", "user_passwd", f"operator:{args.username}", {}, now)
    finally:
        await store.close()
    print(f"password changed for {args.username}")


async def _disable(args: argparse.Namespace, settings: Settings) -> None:
    store = await _open(settings)
    try:
        now = time.time()
        if not await store.update_operator(args.username, now, disabled=True):
            raise CommandError(f"no account {args.username!r}")
        await store.append_audit("cli", "user_disable", f"operator:{args.username}", {}, now)
    finally:
        await store.close()
    print(f"disabled {args.username}")
