"""The remembered engine gives exactly the engine's answers, per tree."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.content.catalog import load_catalogs
from gateway.menu.engine import SessionState, start, step
from gateway.menu.memo import EngineMemo
from gateway.menu.pages import Limit
from tests.conftest import CONTENT, SAMPLE_TREE
from tests.menu.test_engine import INPUTS

TREE = __import__("gateway.menu.loader").menu.loader.load_tree_file(
    SAMPLE_TREE, load_catalogs(CONTENT)
)
MEMO = EngineMemo(size=512)  # small, so that evictions happen too


@settings(max_examples=200, deadline=None)
@given(INPUTS, st.sampled_from([None, "en", "ar", "so"]), st.sampled_from([182]))
def test_remembered_answers_equal_the_engines(
    inputs: list[str], language: str | None, septets: int
) -> None:
    limit = Limit(septets)
    fresh = start(TREE, language=language, country="KE", limit=limit)
    remembered = MEMO.start(TREE, language=language, country="KE", resume=None, limit=limit)
    assert remembered == fresh
    for entry in inputs:
        if fresh.display.end:
            break
        fresh = step(TREE, fresh.state, entry, limit)
        remembered = MEMO.step(TREE, remembered.state, entry, limit)
        assert remembered == fresh


def test_a_new_tree_is_not_answered_from_the_old_ones_memory() -> None:
    memo = EngineMemo()
    first = memo.start(TREE, language="en", country="", resume=None, limit=Limit())
    home = TREE.screens[TREE.home]
    edited_home = replace(home, text={**home.text, "en": "Edited home"})
    edited = replace(TREE, screens={**TREE.screens, home.id: edited_home}, page_cache={})
    shown = memo.start(edited, language="en", country="", resume=None, limit=Limit())
    assert shown.display.text.startswith("Edited home")
    assert not first.display.text.startswith("Edited home")


def test_answers_are_remembered_per_limit() -> None:
    memo = EngineMemo()
    state = SessionState("hotlines", "en", country="KE")  # paginated by the limit
    for septets in (182, 120, 182, 120):
        limit = Limit(septets)
        assert memo.step(TREE, state, "98", limit) == step(TREE, state, "98", limit)
        assert memo.start(TREE, language="en", country="KE", resume=None, limit=limit) == start(
            TREE, language="en", country="KE", limit=limit
        )
    assert step(TREE, state, "98", Limit(120)) != step(TREE, state, "98", Limit(182))


def test_an_equal_limit_keeps_what_was_remembered() -> None:
    memo = EngineMemo()
    first = memo.start(TREE, language="en", country="KE", resume=None, limit=Limit())
    again = memo.start(TREE, language="en", country="KE", resume=None, limit=Limit())
    assert again is first  # remembered, not computed again
