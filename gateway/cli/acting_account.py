"""Commands that act for a person act as a console account, checked as the console does.

``--as USER`` names the account; its password comes from a prompt (not echoed) or, with
``--password-stdin``, from the first line of standard input, never from the command
line. It is checked against the store with argon2 (:class:`Passwords`), a disabled
account is refused, and the account's role must grant the permission the command needs
(an editor drafts, an approver approves and sends), exactly as in the console. With
several services the role is the account's role on the service the command acts on
(``--service``): its ``operator_roles`` row there, else the account's own role; admins
are admins everywhere; ``none`` may do nothing there. A refusal is written to the audit
log (under that service); what the command then does is audited under the account's
name.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time

from gateway.cli.service_option import ChosenService
from gateway.console.passwords import Passwords
from gateway.console.roles import Permission, Role, allows
from gateway.errors import GatewayError
from gateway.store.port import Store


class AccountRefused(GatewayError):
    """The account does not exist, the password is wrong, or the role does not allow it."""


def add_account_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--as", dest="account", required=True, metavar="USER", help="the console account"
    )
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )


def read_account_password(username: str, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return getpass.getpass(f"Password for {username}: ")


async def act_as(
    store: Store,
    args: argparse.Namespace,
    permissions: tuple[Permission, ...],
    what: str,
    passwords: Passwords | None = None,
    service: ChosenService | None = None,
) -> str:
    """The account's name once its password is checked and its role on ``service`` (the
    default when None) grants one of ``permissions``; else :class:`AccountRefused`."""
    key = service.key if service is not None else ""
    username = str(args.account).strip()
    password = read_account_password(username, bool(args.password_stdin))
    operator = await store.get_operator(username)
    checker = passwords or Passwords()
    # The same work whether or not the account exists: the answer does not tell.
    matches = checker.verify(operator.password_hash if operator else None, password)
    now = time.time()
    if operator is None or not matches or operator.disabled:
        await store.append_audit(
            username[:64],
            "cli_refused",
            f"operator:{username[:64]}",
            {"command": what},
            now,
            service=key,
        )
        raise AccountRefused("wrong username or password (or the account is disabled)")
    role = await role_on(store, operator.username, operator.role, key)
    if not any(allows(role, permission) for permission in permissions):
        await store.append_audit(
            username,
            "cli_refused",
            f"operator:{username}",
            {"command": what, "role": role},
            now,
            service=key,
        )
        raise AccountRefused(
            f"{username} is {role}{'' if service is None else f' on {service.id}'}: "
            f"{what} needs an account that may "
            + " or ".join(permission.value for permission in permissions)
        )
    return username


async def role_on(store: Store, username: str, own: str, service: str) -> str:
    """The account's role on ``service``, as the console reckons it
    (:func:`gateway.console.service_scope.visible_services`)."""
    if own == Role.ADMIN.value:
        return own
    return (await store.service_roles(username)).get(service, own or Role.NONE.value)
