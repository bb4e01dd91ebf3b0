"""Password hashes use one argon2 lane, so a check is one thread beside the event loop."""

from __future__ import annotations

import os
import threading

from argon2 import PasswordHasher

from gateway.console.passwords import Passwords


def test_a_new_hash_uses_one_lane_and_a_four_lane_hash_is_redone() -> None:
    passwords = Passwords(workers=1)
    made = passwords.hash("a long enough pass phrase 7")
    assert ",p=1$" in made and "m=65536,t=3" in made
    assert passwords.verify(made, "a long enough pass phrase 7")
    old = PasswordHasher().hash("a long enough pass phrase 7")  # argon2-cffi's 4 lanes
    assert ",p=4$" in old
    assert passwords.verify(old, "a long enough pass phrase 7")
    assert passwords.needs_rehash(old) and not passwords.needs_rehash(made)


def test_a_check_runs_on_one_thread() -> None:
    passwords = Passwords(workers=1)
    made = passwords.hash("a long enough pass phrase 7")
    before = len(os.listdir("/proc/self/task"))
    seen: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.append(len(os.listdir("/proc/self/task")))

    watcher = threading.Thread(target=watch)
    watcher.start()
    for _ in range(3):
        passwords.verify(made, "a long enough pass phrase 7")
    done.set()
    watcher.join()
    # the threads there were, and the watcher: argon2 started none of its own
    assert max(seen) == before + 1
