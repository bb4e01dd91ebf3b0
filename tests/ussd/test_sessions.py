"""Session stores: the compare-and-set that lets several workers share sessions."""

from __future__ import annotations

import gc

import orjson
import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from gateway.menu.effect_port import RecordingEffectHandler
from gateway.menu.engine import SessionState
from gateway.menu.model import Tree
from gateway.privacy.numbers import PhoneHasher
from gateway.settings import Secret
from gateway.ussd.service import USSDService
from gateway.ussd.sessions import (
    CallerView,
    Conflict,
    MemorySessionStore,
    RedisSessionStore,
    SessionRecord,
    SessionStore,
    SessionWrite,
)
from gateway.ussd.types import USSDReply, USSDRequest

HASHER = PhoneHasher(Secret("k" * 32))


def record(hops: int, text: str = "x") -> SessionRecord:
    return SessionRecord(
        SessionState("main", "en"), str(hops), USSDReply(text, False, "main"), hops
    )


def write(hops: int) -> SessionWrite:
    return SessionWrite("s1", "c1", record(hops), None, "en", 60, 60)


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> SessionStore:
    if request.param == "memory":
        return MemorySessionStore()
    url = request.getfixturevalue("redis_url")
    return RedisSessionStore.from_url(url)


async def test_commit_refuses_a_write_computed_from_an_old_version(store: SessionStore) -> None:
    await store.commit(write(1))
    await store.commit(write(2))
    with pytest.raises(Conflict) as refused:
        await store.commit(write(2))  # computed from version 1, but the session is at 2
    assert refused.value.current == record(2)
    assert await store.session("s1") == record(2)


async def test_a_new_session_conflicts_with_one_created_meanwhile(store: SessionStore) -> None:
    await store.commit(write(1))
    with pytest.raises(Conflict):
        await store.commit(write(1))


async def test_a_first_write_that_assumed_no_context_is_refused_with_the_context(
    store: SessionStore,
) -> None:
    resume_point = SessionState("hotlines", "fr")
    # An earlier session of the same caller left a language and a resume point.
    await store.commit(SessionWrite("old", "c1", record(1), resume_point, "fr", 60, 60))
    guess = SessionWrite("new", "c1", record(1), None, "", 60, 60, assumes_no_context=True)
    with pytest.raises(Conflict) as refused:
        await store.commit(guess)
    assert refused.value.view == CallerView(session=None, resume=resume_point, language="fr")
    assert await store.session("new") is None  # nothing was written
    # Computed again from the context it was given, the write goes through.
    await store.commit(SessionWrite("new", "c1", record(1), None, "fr", 60, 60))
    assert await store.session("new") == record(1)


async def test_a_first_write_for_a_caller_with_no_context_goes_through(
    store: SessionStore,
) -> None:
    await store.commit(SessionWrite("s1", "c9", record(1), None, "", 60, 60, True))
    assert await store.session("s1") == record(1)
    # The language was left unset (""), so the caller's next session is still new.
    await store.commit(SessionWrite("s2", "c9", record(1), None, "", 60, 60, True))


async def test_an_empty_language_leaves_the_remembered_one(store: SessionStore) -> None:
    await store.commit(SessionWrite("s1", "c1", record(1), None, "so", 60, 60))
    await store.commit(SessionWrite("s1", "c1", record(2), None, "", 60, 60))
    with pytest.raises(Conflict) as refused:
        await store.commit(SessionWrite("s2", "c1", record(1), None, "", 60, 60, True))
    assert refused.value.view.language == "so"


def request(text: str, session: str = "S", phone: str = "+254700000001") -> USSDRequest:
    return USSDRequest(
        "africastalking", session, phone, "*384#", "63902", text, text, cumulative=True
    )


async def test_two_workers_sharing_redis_continue_one_session(
    sample_tree: Tree, redis_url: str
) -> None:
    def worker() -> USSDService:
        return USSDService(
            lambda: sample_tree,
            RedisSessionStore.from_url(redis_url),
            HASHER,
            RecordingEffectHandler(),
        )

    a, b, alone = worker(), worker(), worker()
    texts = ["", "1", "1*3", "1*3*1", "1*3*1*0", "1*3*1*0*2", "1*3*1*0*2*0"]
    expected = [(await alone.handle(request(t, "ref", "+254700000002"))).text for t in texts]
    served = []
    for index, text in enumerate(texts):
        # Alternate workers, and let each work from its own (stale) cache.
        worker_ = (a, b, b, a, b, a, a)[index]
        served.append((await worker_.handle(request(text))).text)
    assert served == expected
    assert a.stats.conflicts + b.stats.conflicts >= 2
    # A replay on the worker with the stale cache still returns the same screen.
    assert (await b.handle(request(texts[-1]))).text == expected[-1]
    keys = redis.Redis.from_url(redis_url).keys("*")
    assert all(k.startswith(b"gw:ussd:") for k in keys)


async def test_a_caller_who_left_before_choosing_a_language_is_asked_again(
    sample_tree: Tree, redis_url: str
) -> None:
    service = USSDService(
        lambda: sample_tree,
        RedisSessionStore.from_url(redis_url),
        HASHER,
        RecordingEffectHandler(),
    )
    first = await service.handle(request("", "A", "+254700000003"))
    assert first.screen_id == sample_tree.start
    again = await service.handle(request("", "B", "+254700000003"))
    assert again.screen_id == sample_tree.start  # nothing chosen, nothing remembered
    chosen = await service.handle(request("2", "B", "+254700000003"))  # Français
    assert chosen.screen_id == sample_tree.home
    later = await service.handle(request("", "C", "+254700000003"))
    assert later.screen_id == sample_tree.home and later.text == chosen.text


async def test_a_worker_remembers_its_sessions_exactly_and_out_of_the_collectors_sight(
    redis_url: str,
) -> None:
    store = RedisSessionStore.from_url(redis_url)
    deep = SessionState(
        "hotlines",
        "fr",
        page=2,
        history=("language", "main"),
        country="KE",
        variables=(("country", "Kenya"),),
        resume=SessionState("alerts", "fr"),
    )
    sessions = [
        SessionRecord(deep, f"1*{n}", USSDReply(f"Page {n}", n % 2 == 0, "hotlines"), 1)
        for n in range(200)
    ]
    for number, session in enumerate(sessions):
        await store.commit(SessionWrite(f"s{number}", f"c{number}", session, None, "", 60, 60))
    # What the worker remembers is what it wrote, and what Redis holds.
    assert [store.cached(f"s{n}") for n in range(200)] == sessions
    assert await store.session("s7") == sessions[7]
    # Remembered sessions are plain values, which the garbage collector stops tracking:
    # as objects, a full cache made each full collection a long pause. (A collection
    # untracks a tuple whose contents it has already untracked: two passes at most.)
    gc.collect()
    gc.collect()
    remembered = list(store._recent._items.values())
    assert len(remembered) == 200
    assert not any(gc.is_tracked(entry) for entry in remembered)
    await store.close()


_texts = st.text(max_size=60)
_states = st.builds(
    SessionState,
    screen=_texts,
    language=st.sampled_from(["en", "fr", "ar", "so"]),
    page=st.integers(0, 9),
    history=st.tuples(_texts, _texts),
    country=st.sampled_from(["", "KE", "IT"]),
    variables=st.tuples(st.tuples(st.just("country"), _texts)),
)


@given(
    state=_states,
    replay_key=_texts,
    text=_texts,
    end=st.booleans(),
    screen_id=_texts,
    hops=st.integers(1, 10_000),
)
def test_a_record_is_stored_as_one_json_dump_of_all_its_fields(
    state: SessionState, replay_key: str, text: str, end: bool, screen_id: str, hops: int
) -> None:
    record = SessionRecord(state, replay_key, USSDReply(text, end, screen_id), hops)
    whole = b"%d|" % hops + orjson.dumps(
        {"st": state.to_dict(), "k": replay_key, "t": text, "e": end, "id": screen_id, "n": hops}
    )
    assert record.dumps() == whole
    assert SessionRecord.loads(record.dumps()) == record


async def test_a_hit_counter_counts_in_a_window_that_opens_at_the_first_hit(
    store: SessionStore,
) -> None:
    assert [await store.count_hit("caller-a", 60) for _ in range(3)] == [1, 2, 3]
    assert await store.count_hit("caller-b", 60) == 1  # one counter per key


async def test_a_hit_counter_starts_again_when_its_window_ends() -> None:
    now = [100.0]
    store = MemorySessionStore(clock=lambda: now[0])
    assert await store.count_hit("k", 60) == 1
    now[0] += 30
    assert await store.count_hit("k", 60) == 2  # the window did not slide with the hit
    now[0] += 31
    assert await store.count_hit("k", 60) == 1


async def test_the_redis_hit_counter_expires_with_its_window(redis_url: str) -> None:
    store = RedisSessionStore.from_url(redis_url)
    await store.count_hit("k", 60)
    ttl = redis.Redis.from_url(redis_url).ttl("gw:ussd:q:k")
    assert 0 < ttl <= 60
    await store.close()
