"""The engine's answers, remembered per tree.

The engine is pure: the same tree, state and input always give the same
:class:`~gateway.menu.engine.StepResult` (an immutable value). So a worker keeps
the answers it has computed, and most requests, which walk the same few screens
as many callers before them, are answered by a look-up instead of pagination and
rendering. A new tree (a publish, a live swap) starts an empty memory; the memory
is bounded (least recently used answers go first), so free-text inputs cannot
make it grow without end.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from gateway.menu.engine import SessionState, StepResult, start, step
from gateway.menu.model import Tree
from gateway.menu.pages import Limit

DEFAULT_SIZE = 16_384


class EngineMemo:
    """Answers remembered for one tree and one screen limit at a time (a service uses
    one limit): the limit is then no part of each look-up's key, and the tree and the
    limit are checked by identity before anything else."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._size = size
        self._tree: Tree | None = None
        self._limit: Limit | None = None
        self._step: Callable[[SessionState, str], StepResult] = _unset
        self._start: Callable[[str | None, str, SessionState | None, str], StepResult] = _unset

    def _for(self, tree: Tree, limit: Limit) -> None:
        if tree is self._tree and limit == self._limit:
            self._limit = limit  # an equal limit: the same answers
            return

        def start_on_tree(
            language: str | None, country: str, resume: SessionState | None, home: str
        ) -> StepResult:
            return start(
                tree, language=language, country=country, resume=resume, limit=limit, home=home
            )

        def step_on_tree(state: SessionState, user_input: str) -> StepResult:
            return step(tree, state, user_input, limit)

        self._start = lru_cache(maxsize=self._size)(start_on_tree)
        self._step = lru_cache(maxsize=self._size)(step_on_tree)
        self._tree, self._limit = tree, limit

    def start(
        self,
        tree: Tree,
        *,
        language: str | None,
        country: str,
        resume: SessionState | None,
        limit: Limit,
        home: str = "",
    ) -> StepResult:
        if tree is not self._tree or limit is not self._limit:
            self._for(tree, limit)
        return self._start(language, country, resume, home)

    def step(self, tree: Tree, state: SessionState, user_input: str, limit: Limit) -> StepResult:
        if tree is not self._tree or limit is not self._limit:
            self._for(tree, limit)
        return self._step(state, user_input)


def _unset(*_: object) -> StepResult:
    raise AssertionError("EngineMemo: no tree yet")  # _for always runs first
