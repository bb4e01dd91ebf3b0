"""Operator roles and what each may do.

An editor drafts menus, content and alerts; an approver publishes and approves what
somebody else drafted; an admin may do both and manages accounts. Nobody approves
their own change: that rule is checked where the change is approved, against its
author, not here.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    APPROVER = "approver"
    NONE = "none"  # no role of its own: only the services given per service (operator_roles)


class Permission(StrEnum):
    VIEW = "view"
    EDIT = "edit"  # draft menus, content, alerts
    APPROVE = "approve"  # publish menus, approve and send alerts
    ADMIN = "admin"  # manage operator accounts


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.EDITOR: frozenset({Permission.VIEW, Permission.EDIT}),
    Role.APPROVER: frozenset({Permission.VIEW, Permission.APPROVE}),
    Role.NONE: frozenset(),
}


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        allowed = ", ".join(role.value for role in Role)
        raise ValueError(f"unknown role {value!r}; choose one of {allowed}") from None


def allows(role: str | None, permission: Permission) -> bool:
    if role is None:
        return False
    try:
        return permission in GRANTS[Role(role)]
    except ValueError:
        return False
