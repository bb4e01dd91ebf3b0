"""The operators' security state: sign-in counters, console sessions, second factors.

Every worker on the same database sees the same rows, so a session ended (password
changed, account disabled, signed out everywhere) is gone for all of them at the next
request. Sign-in counters are read and written in one transaction under an advisory
lock per key on PostgreSQL (SQLite's single writer already orders them), so parallel
attempts from any number of workers are counted one after the other.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

from gateway.store.base import StoreBase
from gateway.store.database import Row
from gateway.store.operator_records import OperatorSessionRecord, SecondFactor, SignInCounter

CounterChanges = Mapping[str, SignInCounter | None]


def _session(row: Row) -> OperatorSessionRecord:
    return OperatorSessionRecord(
        id_hash=row["id_hash"],
        username=row["username"],
        role=row["role"],
        stage=row["stage"],
        csrf_token=row["csrf_token"],
        created_at=row["created_at"],
        last_seen=row["last_seen"],
        authenticated_at=row["authenticated_at"],
        address=row["address"],
        user_agent=row["user_agent"],
        data=row["data"],
    )


def _factor(row: Row) -> SecondFactor:
    return SecondFactor(
        username=row["username"],
        totp_sealed=row["totp_sealed"],
        last_step=int(row["last_step"]),
        recovery_hashes=tuple(json.loads(row["recovery_hashes"])),
        enrolled_at=row["enrolled_at"],
    )


class OperatorSecurity(StoreBase):
    # -- sign-in counters ------------------------------------------------------------

    async def update_sign_in_counters(
        self,
        keys: Sequence[str],
        change: Callable[[dict[str, SignInCounter]], CounterChanges],
    ) -> None:
        """Read the counters of ``keys``, let ``change`` decide, write what it returns:
        one transaction, serialised against every other worker's."""
        ordered = sorted(set(keys))  # one lock order for every worker: no deadlock
        async with self.transaction("sign-in counters") as db:
            for key in ordered:
                await db.lock_name("sign-in:" + key)
            where, params = self.dialect.any_of("key", ordered, "text")
            rows = await db.fetch(
                f"SELECT key, failures, last_at FROM sign_in_counters WHERE {where}", *params
            )
            current = {row[0]: SignInCounter(int(row[1]), float(row[2])) for row in rows}
            for key, counter in change(current).items():
                if counter is None:
                    await db.execute("DELETE FROM sign_in_counters WHERE key = ?", key)
                else:
                    await db.execute(
                        "INSERT INTO sign_in_counters (key, failures, last_at) VALUES (?, ?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, "
                        "last_at = excluded.last_at",
                        key,
                        counter.failures,
                        counter.last_at,
                    )

    async def purge_sign_in_counters(self, before: float) -> int:
        async with self.transaction("purge sign-in counters") as db:
            return await db.execute("DELETE FROM sign_in_counters WHERE last_at < ?", before)

    # -- sessions --------------------------------------------------------------------

    async def save_operator_session(self, record: OperatorSessionRecord) -> None:
        async with self.transaction("save session") as db:
            await db.execute(
                "INSERT INTO operator_sessions (id_hash, username, role, stage, csrf_token, "
                "created_at, last_seen, authenticated_at, address, user_agent, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id_hash) DO UPDATE SET "
                "stage = excluded.stage, last_seen = excluded.last_seen, "
                "authenticated_at = excluded.authenticated_at, data = excluded.data",
                record.id_hash,
                record.username,
                record.role,
                record.stage,
                record.csrf_token,
                record.created_at,
                record.last_seen,
                record.authenticated_at,
                record.address,
                record.user_agent,
                record.data,
            )

    async def touch_operator_session(
        self, id_hash: str, last_seen: float, data: str | None, authenticated_at: float | None
    ) -> bool:
        """Update a live session; False when it was ended meanwhile (it stays ended)."""
        async with self.transaction("touch session") as db:
            changed = await db.execute(
                "UPDATE operator_sessions SET last_seen = ?, data = COALESCE(?, data), "
                "authenticated_at = COALESCE(?, authenticated_at) WHERE id_hash = ?",
                last_seen,
                data,
                authenticated_at,
                id_hash,
            )
            return changed > 0

    async def get_operator_session(self, id_hash: str) -> OperatorSessionRecord | None:
        row = await self.fetchrow("SELECT * FROM operator_sessions WHERE id_hash = ?", id_hash)
        return None if row is None else _session(row)

    async def delete_operator_session(self, id_hash: str) -> None:
        async with self.transaction("end session") as db:
            await db.execute("DELETE FROM operator_sessions WHERE id_hash = ?", id_hash)

    async def delete_operator_sessions(self, username: str, keep: str | None = None) -> int:
        async with self.transaction("end sessions") as db:
            return await db.execute(
                "DELETE FROM operator_sessions WHERE username = ? AND id_hash != ?",
                username,
                keep or "",
            )

    async def list_operator_sessions(self, username: str) -> list[OperatorSessionRecord]:
        rows = await self.fetch(
            "SELECT * FROM operator_sessions WHERE username = ? ORDER BY last_seen DESC",
            username,
        )
        return [_session(row) for row in rows]

    async def purge_operator_sessions(self, idle_before: float, created_before: float) -> int:
        async with self.transaction("purge sessions") as db:
            return await db.execute(
                "DELETE FROM operator_sessions WHERE last_seen < ? OR created_at < ?",
                idle_before,
                created_before,
            )

    # -- second factor ---------------------------------------------------------------

    async def get_second_factor(self, username: str) -> SecondFactor | None:
        row = await self.fetchrow("SELECT * FROM operator_factors WHERE username = ?", username)
        return None if row is None else _factor(row)

    async def save_second_factor(
        self, username: str, totp_sealed: str, recovery_hashes: Sequence[str], now: float
    ) -> None:
        async with self.transaction("save second factor") as db:
            await db.execute(
                "INSERT INTO operator_factors (username, totp_sealed, last_step, recovery_hashes,"
                " enrolled_at) VALUES (?, ?, 0, ?, ?) ON CONFLICT (username) DO UPDATE SET "
                "totp_sealed = excluded.totp_sealed, last_step = 0, "
                "recovery_hashes = excluded.recovery_hashes, enrolled_at = excluded.enrolled_at",
                username,
                totp_sealed,
                json.dumps(list(recovery_hashes)),
                now,
            )

    async def delete_second_factor(self, username: str) -> bool:
        async with self.transaction("delete second factor") as db:
            return await db.execute("DELETE FROM operator_factors WHERE username = ?", username) > 0

    async def use_totp_step(self, username: str, step: int) -> bool:
        """Record ``step`` as used; False when it (or a later one) was used already, so
        a code works once."""
        async with self.transaction("use totp step") as db:
            changed = await db.execute(
                "UPDATE operator_factors SET last_step = ? WHERE username = ? AND last_step < ?",
                step,
                username,
                step,
            )
            return changed > 0

    async def use_recovery_code(self, username: str, code_hash: str) -> bool:
        """Strike ``code_hash`` off the account's recovery codes; False if not there."""
        async with self.transaction("use recovery code") as db:
            raw = await db.fetchval(
                "SELECT recovery_hashes FROM operator_factors WHERE username = ?"
                + self.dialect.for_update,
                username,
            )
            if raw is None:
                return False
            hashes: list[str] = json.loads(raw)
            if code_hash not in hashes:
                return False
            hashes.remove(code_hash)
            await db.execute(
                "UPDATE operator_factors SET recovery_hashes = ? WHERE username = ?",
                json.dumps(hashes),
                username,
            )
            return True
