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
from gateway.ussd.service import ServiceOptions, USSDService
from gateway.ussd.sessions import (
    CallerView,
    Conflict,
    ExpiringMap,
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


async def test_a_first_write_that_assumed_the_callers_context_goes_through_when_it_holds(
    store: SessionStore,
) -> None:
    resume_point = SessionState("hotlines", "fr")
    await store.commit(SessionWrite("old", "c1", record(1), resume_point, "fr", 60, 60))
    assumed = SessionWrite("new", "c1", record(1), None, "fr", 60, 60, True, resume_point, "fr")
    await store.commit(assumed)
    assert await store.session("new") == record(1)


@pytest.mark.parametrize(
    ("resume", "language"),
    [(None, "fr"), (SessionState("hotlines", "fr"), None), (SessionState("main", "fr"), "fr")],
)
async def test_a_first_write_that_assumed_another_context_is_refused_with_the_context(
    store: SessionStore, resume: SessionState | None, language: str | None
) -> None:
    resume_point = SessionState("hotlines", "fr")
    await store.commit(SessionWrite("old", "c1", record(1), resume_point, "fr", 60, 60))
    guess = SessionWrite("new", "c1", record(1), None, "fr", 60, 60, True, resume, language)
    with pytest.raises(Conflict) as refused:
        await store.commit(guess)
    assert refused.value.view == CallerView(session=None, resume=resume_point, language="fr")
    assert await store.session("new") is None
    assert store.context("c1") == (resume_point, "fr")  # the refusal taught the worker


async def test_a_worker_knows_the_context_it_wrote_and_forgets_it_with_redis(
    redis_url: str,
) -> None:
    now = [1000.0]
    store = RedisSessionStore.from_url(redis_url)
    store._resumes = ExpiringMap(10, lambda: now[0])
    store._languages = ExpiringMap(10, lambda: now[0])
    assert store.context("c1") == (None, None)
    resume_point = SessionState("hotlines", "so")
    await store.commit(SessionWrite("s1", "c1", record(1), resume_point, "so", 60, 30))
    assert store.context("c1") == (resume_point, "so")
    now[0] += 31  # Redis has dropped the resume point by now (its TTL is 30 s)
    assert store.context("c1") == (None, "so")
    await store.commit(SessionWrite("s1", "c1", record(2), None, "", 60, 30))
    assert store.context("c1") == (None, "so")  # "" leaves the language as it is
    await store.close()


def request(text: str, session: str = "S", phone: str = "+254700000001") -> USSDRequest:
    return USSDRequest(
        "africastalking", session, phone, "*384#", "63902", text, text, cumulative=True
    )


def worker(tree: Tree, redis_url: str) -> USSDService:
    """A gateway worker of its own: its sessions in the shared Redis, its own caches."""
    return USSDService(
        lambda: tree, RedisSessionStore.from_url(redis_url), HASHER, RecordingEffectHandler()
    )


async def test_two_workers_sharing_redis_continue_one_session(
    sample_tree: Tree, redis_url: str
) -> None:
    a, b, alone = (worker(sample_tree, redis_url) for _ in range(3))
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
    service = worker(sample_tree, redis_url)
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
    cached = [store.cached(f"s{n}") for n in range(200)]
    assert cached == sessions
    assert all(type(r) is SessionRecord and type(r.reply) is USSDReply for r in cached)
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


def _commits(redis_url: str) -> int:
    stats = redis.Redis.from_url(redis_url).info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


def _stored(redis_url: str, service: USSDService, session: str, phone: str) -> list[object]:
    """What Redis holds for a caller's session and context, TTLs to the minute."""
    client = redis.Redis.from_url(redis_url)
    caller = HASHER.hash(phone, "caller")
    keys = [
        "gw:ussd:s:" + service.session_key(session, "africastalking", caller),
        "gw:ussd:r:" + caller,
        "gw:ussd:l:" + caller,
    ]
    return [(client.get(key), -(-client.ttl(key) // 60)) for key in keys]


async def test_a_returning_callers_first_request_costs_one_trip_and_changes_nothing(
    sample_tree: Tree, redis_url: str
) -> None:
    """The worker that served a caller's last session knows their context: the next
    session's first request is one commit, not a refused one and a second; the screen
    and everything stored are those of a worker that had to learn the context."""

    served, fresh = worker(sample_tree, redis_url), worker(sample_tree, redis_url)
    first = ["", "1", "1*3", "1*3*1"]  # then the caller hangs up beyond the first screens
    twins = ("+254700000011", "+254700000012")
    for phone in twins:
        for text in first:
            await served.handle(request(text, "one", phone))
    screens, stored, trips = [], [], []
    for worker_, phone in zip((served, fresh), twins, strict=True):
        before = _commits(redis_url)
        reply = await worker_.handle(request("", "two", phone))
        trips.append(_commits(redis_url) - before)
        screens.append(reply)
        stored.append(_stored(redis_url, worker_, "two", phone))
        # The caller goes on: continue where they left off, then one more step.
        for text in ("1", "1*0"):
            screens.append(await worker_.handle(request(text, "two", phone)))
        stored.append(_stored(redis_url, worker_, "two", phone))
    assert trips == [1, 2]
    assert screens[0].screen_id == "__resume__"
    assert screens[:3] == screens[3:]
    assert stored[:2] == stored[2:]


async def test_a_worker_whose_memory_of_a_caller_is_stale_is_refused_and_redoes(
    sample_tree: Tree, redis_url: str
) -> None:
    a, b, fresh = (worker(sample_tree, redis_url) for _ in range(3))
    phone = "+254700000021"
    for text in ("", "1", "1*3", "1*3*1"):
        await a.handle(request(text, "one", phone))
    # The caller's next session is served by b: a quick exit forgets the resume point.
    for text in ("", "2", "2*99"):
        await b.handle(request(text, "two", phone))
    before = _commits(redis_url)
    stale = await a.handle(request("", "three", phone))  # a still remembers a resume point
    assert _commits(redis_url) - before == 2
    expected = await fresh.handle(request("", "four", phone))
    assert stale == expected and stale.screen_id != "__resume__"


class RecordingStore(MemorySessionStore):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[SessionWrite] = []

    async def commit(self, write: SessionWrite) -> None:
        self.writes.append(write)
        await super().commit(write)


async def test_the_service_writes_every_field_of_a_commit(sample_tree: Tree) -> None:
    """The service builds its SessionWrite positionally: each field is where it belongs."""
    store = RecordingStore()
    options = ServiceOptions(session_ttl=111, resume_window=77)
    service = USSDService(lambda: sample_tree, store, HASHER, RecordingEffectHandler(), options)
    caller_key = HASHER.hash("+254700000001", "caller")
    replies = [await service.handle(request(text)) for text in ("", "1", "1*1")]
    first, chosen, deeper = store.writes
    assert first == SessionWrite(
        session_key=service.session_key("S", "africastalking", caller_key),
        caller_key=caller_key,
        record=SessionRecord(first.record.state, "", replies[0], 1),
        resume=None,
        language="",
        session_ttl=111,
        resume_ttl=77,
        assumes_no_context=True,
        assumed_resume=None,
        assumed_language=None,
    )
    assert first.record.state.screen == sample_tree.start
    assert chosen.record == SessionRecord(chosen.record.state, "1", replies[1], 2)
    assert chosen.language == chosen.record.state.language == sample_tree.languages[0]
    assert not chosen.assumes_no_context and chosen.session_key == first.session_key
    assert deeper.record.hops == 3 and deeper.resume == deeper.record.state
    # A new session of the same caller computes from the context this worker wrote.
    await service.handle(request("", session="T"))
    again = store.writes[-1]
    assert again.assumes_no_context and again.record.hops == 1
    assert again.assumed_resume == deeper.record.state
    assert again.assumed_language == sample_tree.languages[0]
    assert (again.session_ttl, again.resume_ttl) == (111, 77)


async def test_a_dial_string_walks_its_inputs_and_keeps_the_language_chosen_on_the_way(
    sample_tree: Tree,
) -> None:
    walked, dialled = RecordingStore(), RecordingStore()
    one_by_one = USSDService(lambda: sample_tree, walked, HASHER, RecordingEffectHandler())
    at_once = USSDService(lambda: sample_tree, dialled, HASHER, RecordingEffectHandler())
    steps = [await one_by_one.handle(request(text)) for text in ("", "1", "1*1")]
    dialled_reply = await at_once.handle(request("1*1"))
    [write] = dialled.writes
    assert dialled_reply == steps[-1] and write.record.state == walked.writes[-1].record.state
    # The language was chosen by the first of the two inputs: it is remembered.
    assert write.language == walked.writes[1].language == sample_tree.languages[0]
