"""The keyed chain and its checkpoints, pure: built and checked in memory."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random

from hypothesis import given
from hypothesis import strategies as st

from gateway.store.audit_chain import (
    GENESIS_HASH,
    SWITCH_OVER_ACTION,
    RowContent,
    checkpoint_line,
    entry_hash,
    keyed_entry_hash,
    parse_checkpoint,
    read_anchor,
    seal_checkpoint,
    switch_over_details,
    verify_chain,
)
from gateway.store.records import AuditCheckpoint, AuditEntry

KEY = b"pure test audit key, thirty-two bytes++"
OTHER_KEY = b"someone else's key, thirty-two bytes+++"


def keyed_log(count: int, key: bytes = KEY, legacy: int = 0) -> list[AuditEntry]:
    """``legacy`` unkeyed rows, the switch-over row if there were any, then keyed rows
    up to ``count`` rows in all, as the store writes them."""
    entries: list[AuditEntry] = []
    prev = GENESIS_HASH
    for index in range(count):
        row_id = index + 1
        details: dict[str, object] = {"i": index}
        action, actor = "login", f"op{index}"
        if index < legacy:
            row_hash = entry_hash(prev, RowContent(float(index), actor, action, "console", details))
        else:
            if index == legacy and legacy > 0:
                action, actor = SWITCH_OVER_ACTION, "gateway"
                details = switch_over_details(legacy, prev)
            row_hash = keyed_entry_hash(
                key, prev, RowContent(float(index), actor, action, "console", details)
            )
        entries.append(
            AuditEntry(row_id, float(index), actor, action, "console", details, prev, row_hash)
        )
        prev = row_hash
    return entries


def checkpoint_of(entries: list[AuditEntry], key: bytes = KEY) -> AuditCheckpoint:
    last = entries[-1]
    return seal_checkpoint(key, len(entries), last.id, last.row_hash, last.at)


def rehash(entries: list[AuditEntry], make: str, key: bytes = b"") -> list[AuditEntry]:
    """What someone who can write the database does after an edit: every hash
    recomputed (``plain``: sha256 as the old chain; ``plain-tagged``: sha256 with the
    keyed tag; ``keyed``: HMAC with ``key``)."""
    out: list[AuditEntry] = []
    prev = GENESIS_HASH
    for entry in entries:
        content = RowContent(entry.at, entry.actor, entry.action, entry.subject, entry.details)
        if make == "plain":
            row_hash = entry_hash(prev, content)
        elif make == "plain-tagged":
            row_hash = "k1:" + entry_hash(prev, content)
        else:
            row_hash = keyed_entry_hash(key, prev, content)
        out.append(dataclasses.replace(entry, prev_hash=prev, row_hash=row_hash))
        prev = row_hash
    return out


def test_a_keyed_log_verifies_with_its_key_and_checkpoint() -> None:
    log = keyed_log(6)
    check = verify_chain(log, KEY, checkpoint_of(log))
    assert check.ok and check.checked == 6 and check.keyed_from == 1 and check.legacy_rows == 0
    assert all(entry.row_hash.startswith("k1:") for entry in log)


def test_without_the_key_keyed_rows_are_not_taken_on_trust() -> None:
    check = verify_chain(keyed_log(3), None)
    assert not check.ok and check.broken_at == 1 and "no audit key" in check.reason


@given(st.integers(min_value=1, max_value=12), st.data())
def test_any_edited_field_of_any_row_is_named(count: int, data: st.DataObject) -> None:
    log = keyed_log(count)
    index = data.draw(st.integers(min_value=0, max_value=count - 1))
    field = data.draw(st.sampled_from(["actor", "action", "subject", "details", "at"]))
    edits: dict[str, AuditEntry] = {
        "actor": dataclasses.replace(log[index], actor="mallory"),
        "action": dataclasses.replace(log[index], action="mallory"),
        "subject": dataclasses.replace(log[index], subject="mallory"),
        "details": dataclasses.replace(log[index], details={"i": -1}),
        "at": dataclasses.replace(log[index], at=-1.0),
    }
    log[index] = edits[field]
    check = verify_chain(log, KEY, checkpoint_of(keyed_log(count)))
    assert not check.ok and check.broken_at == index + 1 and check.checked == index
    assert f"row {index + 1} does not match its keyed hash" in check.reason


def test_a_chain_rehashed_with_another_key_fails_at_the_first_row() -> None:
    log = keyed_log(5)
    log[2] = dataclasses.replace(log[2], actor="mallory")
    check = verify_chain(rehash(log, "keyed", OTHER_KEY), KEY, checkpoint_of(keyed_log(5)))
    assert not check.ok and check.broken_at == 1


def test_a_chain_rehashed_with_plain_sha256_is_caught() -> None:
    original = keyed_log(5)
    log = list(original)
    log[2] = dataclasses.replace(log[2], actor="mallory")
    # Tagged as keyed: the hash is not the key's.
    tagged = verify_chain(rehash(log, "plain-tagged"), KEY, checkpoint_of(original))
    assert not tagged.ok and tagged.broken_at == 1
    # Turned back into an old unkeyed chain: every link holds, the checkpoint does not.
    plain = verify_chain(rehash(log, "plain"), KEY, checkpoint_of(original))
    assert not plain.ok and plain.broken_at == 5
    assert "row 5 is not the row the checkpoint of" in plain.reason
    assert "rewritten" in plain.reason


@given(st.integers(min_value=1, max_value=10), st.data())
def test_rows_deleted_from_the_end_are_caught_by_the_checkpoint(
    count: int, data: st.DataObject
) -> None:
    log = keyed_log(count)
    kept = data.draw(st.integers(min_value=0, max_value=count - 1))
    assert verify_chain(log[:kept], KEY).ok  # the chain alone cannot see it
    check = verify_chain(log[:kept], KEY, checkpoint_of(log))
    assert not check.ok and check.broken_at is None
    assert "recorded more: rows were deleted from the end" in check.reason
    assert f"rows, last row {count})" in check.reason or count == 1


def test_a_deleted_row_before_the_checkpoint_is_named() -> None:
    log = keyed_log(6)
    check = verify_chain(log[:2] + log[3:], KEY, checkpoint_of(log))
    assert not check.ok and check.broken_at == 4 and "does not link" in check.reason


def test_rows_after_the_newest_checkpoint_still_verify_by_the_key() -> None:
    log = keyed_log(8)
    assert verify_chain(log, KEY, checkpoint_of(log[:5])).ok


def test_legacy_rows_verify_the_old_way_then_the_switch_over_seals_them() -> None:
    log = keyed_log(7, legacy=3)
    check = verify_chain(log, KEY, checkpoint_of(log))
    assert check.ok and check.legacy_rows == 3 and check.keyed_from == 4
    assert log[3].action == SWITCH_OVER_ACTION


def test_a_legacy_row_edited_and_rehashed_after_the_switch_over_breaks_its_seal() -> None:
    log = keyed_log(7, legacy=3)
    edited = rehash([dataclasses.replace(log[0], actor="mallory"), *log[1:3]], "plain")
    check = verify_chain(edited + log[3:], KEY)
    assert not check.ok and check.broken_at == 4 and "does not link" in check.reason


def test_keyed_rows_cannot_begin_without_the_switch_over_row() -> None:
    log = keyed_log(3, legacy=3) + keyed_log(5)[3:]
    log = rehash(log[:3], "plain") + log[3:]
    prev = log[2].row_hash
    entry = log[3]
    forged = dataclasses.replace(
        entry,
        prev_hash=prev,
        row_hash=keyed_entry_hash(
            KEY, prev, RowContent(entry.at, entry.actor, entry.action, entry.subject, entry.details)
        ),
    )
    check = verify_chain([*log[:3], forged], KEY)
    assert not check.ok and check.broken_at == 4 and "switch-over" in check.reason


def test_an_unkeyed_row_after_keyed_rows_is_refused() -> None:
    log = keyed_log(4)
    last = log[3]
    plain = dataclasses.replace(
        last,
        row_hash=entry_hash(
            last.prev_hash, RowContent(last.at, last.actor, last.action, last.subject, last.details)
        ),
    )
    check = verify_chain([*log[:3], plain], KEY)
    assert not check.ok and check.broken_at == 4 and "unkeyed after the keyed rows" in check.reason


def test_checkpoint_lines_round_trip_and_the_newest_has_the_most_rows() -> None:
    log = keyed_log(5)
    checkpoints = [checkpoint_of(log[:n]) for n in range(1, 6)]
    assert parse_checkpoint(checkpoint_line(checkpoints[2])) == checkpoints[2]
    lines = [checkpoint_line(c) + "\n" for c in checkpoints]
    random.Random(7).shuffle(lines)  # two processes append in either order
    reading = read_anchor(KEY, lines)
    assert reading.newest == checkpoints[-1] and reading.lines == 5 and reading.problem == ""


def test_a_checkpoint_without_the_key_or_damaged_is_named_by_its_line() -> None:
    log = keyed_log(4)
    good = checkpoint_line(checkpoint_of(log[:2]))
    forged = checkpoint_line(checkpoint_of(log[:4], OTHER_KEY))
    assert "line 2 of the anchor is not sealed" in read_anchor(KEY, [good, forged]).problem
    moved = json.loads(checkpoint_line(checkpoint_of(log[:4])))
    moved["rows"] = 3  # fewer rows, as after a trim
    assert "line 1 of the anchor is not sealed" in read_anchor(KEY, [json.dumps(moved)]).problem
    assert "line 2 of the anchor is damaged" in read_anchor(KEY, [good, "{not json"]).problem
    assert "damaged" in read_anchor(KEY, ['{"rows": "3"}']).problem


def test_the_checkpoint_seal_is_not_a_row_hash() -> None:
    # Domain separation: the same key never gives the same MAC for a row and for a
    # checkpoint, so neither can stand in for the other.
    log = keyed_log(1)
    checkpoint = checkpoint_of(log)
    assert checkpoint.mac != log[0].row_hash.removeprefix("k1:")
    assert hashlib.sha256(KEY).hexdigest() not in (checkpoint.mac, log[0].row_hash)
