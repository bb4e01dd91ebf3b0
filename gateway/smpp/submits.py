"""The submit_sm queue of one bind: window, rate cap, pauses and retries.

It decides what to send and when, and what each answer means for the message:

- at most the connection's window outstanding, and never more than ``tps`` submits
  in any window of 1 s (+ ``rate_margin``) on ``clock`` (:class:`RateLimiter`);
- ESME_RTHROTTLED: pause the whole queue and send the same message again first; the
  pause doubles while throttling lasts, i.e. when a message sent after the pause
  began is throttled again. The rest of a window sent before the pause, throttled by
  the same congestion, does not lengthen it (a full window of 100 answered
  ESME_RTHROTTLED at once would otherwise pause the bind for the maximum);
- ESME_RMSGQFUL, ESME_RSYSERR, ESME_RX_T_APPN: try again after a short pause, at
  most ``temporary_retries`` times, then answer RETRY;
- any other error: FAILED, never sent again;
- a lost link: what was in flight goes back to the head of the queue, to be sent
  again on the next link of the same SMSC (at-least-once; at most a window of
  duplicates). Such a job is *uncertain* (the SMSC may have taken it): if it is given
  up (no link within ``submit_deadline``) its answer says so (``UNCERTAIN``) and it is
  never handed to another SMSC. With ``release_on_down`` (an SMSC with a failover
  target), jobs never written to the lost link are answered RETRY (``NO_LINK``) at
  once, so the route's next target can take them;
- urgent messages (a keyword reply, a STOP confirmation, a USSD screen or "send by
  SMS") wait in their own queue, always served before bulk: during a broadcast that
  saturates the bind, a reply waits for a window slot and a rate slot, not for the
  broadcast's backlog. Both share the same window and rate cap (the grant).
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from smpplib import consts

from gateway.pacing.sliding_window import Limiter, RateLimiter
from gateway.smpp.connection import SMPPConnection
from gateway.smpp.errors import LocalProtocolError
from gateway.smpp.pdu import SubmitSM
from gateway.smpp.tuning import LinkTuning
from gateway.sms.messages import SendOutcome

log = structlog.get_logger(__name__)

TEMPORARY_STATUSES = frozenset(
    {consts.SMPP_ESME_RMSGQFUL, consts.SMPP_ESME_RSYSERR, consts.SMPP_ESME_RX_T_APPN}
)
THROTTLED = consts.SMPP_ESME_RTHROTTLED
NO_LINK = -1  # PartResult.status: never sent to the SMSC (safe to send elsewhere)
UNCERTAIN = -2  # PartResult.status: sent, never answered (the SMSC may have taken it)


@dataclass(frozen=True)
class PartResult:
    outcome: SendOutcome
    message_id: str = ""
    status: int = 0


@dataclass
class _Job:
    pdu: SubmitSM
    future: asyncio.Future[PartResult]
    attempts: int = 0
    urgent: bool = False
    sent_at: float = 0.0  # when it last went out (the queue's clock)
    uncertain: bool = False  # written to a link that was lost before it answered


_STATUS_NAMES: dict[int, str] = {
    int(value): str(name).removeprefix("SMPP_")
    for name, value in vars(consts).items()
    if name.startswith("SMPP_ESME_") and isinstance(value, int)
}


def status_name(status: int) -> str:
    """``ESME_ROK``, ``ESME_RTHROTTLED``, ...; an unlisted (vendor) code as hex."""
    return _STATUS_NAMES.get(status, f"0x{status:08x}")


class SubmitQueue:
    def __init__(
        self,
        tps: float,
        tuning: LinkTuning,
        write: Callable[[bytes], None],
        *,
        name: str = "",
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.tuning = tuning
        self.limiter: Limiter = RateLimiter(tps, tuning.rate_margin)
        self.name = name
        self._write = write
        self._clock = clock
        self._queue: deque[_Job] = deque()  # bulk
        self._urgent: deque[_Job] = deque()  # served first
        self._inflight: dict[int, _Job] = {}
        self._conn: SMPPConnection | None = None
        self._paused_until = 0.0
        self._throttle_streak = 0
        self._pause_began = float("-inf")
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = 0.0
        self.closed = False
        self.release_on_down = False
        self.submitted = 0
        self.throttled = 0
        self.responses: Counter[str] = Counter()  # submit_sm_resp by status name

    def now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    @property
    def queued(self) -> int:
        return len(self._queue) + len(self._urgent)

    def _head(self, job: _Job) -> None:
        """Back to the head of its own queue (a throttled or unanswered job)."""
        (self._urgent if job.urgent else self._queue).appendleft(job)

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    # --- what the bind tells the queue -----------------------------------------------

    def submit(self, pdu: SubmitSM, *, urgent: bool = False) -> asyncio.Future[PartResult]:
        """Queue ``pdu``; the future resolves with its outcome and never raises."""
        job = _Job(pdu, asyncio.get_running_loop().create_future(), urgent=urgent)
        if self.closed:
            job.future.set_result(PartResult(SendOutcome.RETRY, status=NO_LINK))
        else:
            (self._urgent if urgent else self._queue).append(job)
            self.pump()
        return job.future

    def link_up(self, conn: SMPPConnection) -> None:
        self._conn = conn
        self.pump()

    def link_down(self) -> None:
        """The link is gone: in-flight messages go back to the head of the queue."""
        self._conn = None
        if self._inflight:
            jobs = [self._inflight[sequence] for sequence in sorted(self._inflight)]
            self._inflight.clear()
            for job in reversed(jobs):
                job.uncertain = True
                self._head(job)
        if self.release_on_down:
            self._release_unsent()

    def _release_unsent(self) -> None:
        """Answer RETRY (never sent) to every waiting job not yet written anywhere."""
        for queue in (self._urgent, self._queue):
            kept = deque(job for job in queue if job.uncertain and not job.future.done())
            for job in queue:
                if not job.uncertain and not job.future.done():
                    job.future.set_result(PartResult(SendOutcome.RETRY, status=NO_LINK))
            queue.clear()
            queue.extend(kept)

    def answered(self, sequence: int, status: int, message_id: str) -> None:
        job = self._inflight.pop(sequence, None)
        if job is not None:
            self._settle(job, status, message_id)

    def unanswered(self, sequence: int) -> None:
        """No answer in time: send it again (first) on the next link."""
        job = self._inflight.pop(sequence, None)
        if job is not None:
            job.uncertain = True
            self._head(job)

    def fail_queued(self) -> None:
        """Answer everything waiting (no link for too long, or shutting down): RETRY,
        or UNCERTAIN for a job that was sent on a link lost before it answered."""
        while self._urgent or self._queue:
            job = (self._urgent or self._queue).popleft()
            if not job.future.done():
                job.future.set_result(_given_up(job))

    def close(self) -> None:
        self.closed = True
        self.link_down()
        self.fail_queued()
        if self._timer is not None:
            self._timer.cancel()

    # --- answers ---------------------------------------------------------------------

    def _settle(self, job: _Job, status: int, message_id: str) -> None:
        self.responses[status_name(status)] += 1
        if status == 0:
            self._throttle_streak = 0
            self.submitted += 1
            if not job.future.done():
                job.future.set_result(PartResult(SendOutcome.ACCEPTED, message_id))
        elif status == THROTTLED:
            self.throttled += 1
            if job.sent_at > self._pause_began:  # sent after the last pause began: no help
                self._throttle_streak += 1
                pause = min(
                    self.tuning.throttle_pause_max,
                    self.tuning.throttle_pause * 2.0 ** min(self._throttle_streak - 1, 16),
                )
                now = self.now()
                self._pause_began = now
                self._paused_until = max(self._paused_until, now + pause)
            self._head(job)
        elif status in TEMPORARY_STATUSES:
            job.attempts += 1
            if job.attempts > self.tuning.temporary_retries:
                if not job.future.done():
                    job.future.set_result(PartResult(SendOutcome.RETRY, status=status))
            else:
                loop = asyncio.get_running_loop()
                loop.call_later(self.tuning.temporary_pause, self._requeue, job)
        elif not job.future.done():
            job.future.set_result(PartResult(SendOutcome.FAILED, status=status))

    def _requeue(self, job: _Job) -> None:
        if job.future.done():
            return
        if self.closed:
            job.future.set_result(_given_up(job))
            return
        self._head(job)
        self.pump()

    # --- sending ---------------------------------------------------------------------

    def pump(self) -> None:
        """Send queued messages while the window, the rate cap and any pause allow."""
        conn = self._conn
        if conn is None or not (self._urgent or self._queue) or not conn.may_submit:
            return
        now = self.now()
        if now < self._paused_until:
            self._wake_at(self._paused_until, now)
            return
        out: list[bytes] = []
        urgent, bulk = self._urgent, self._queue
        while (urgent or bulk) and conn.window_free > 0:
            queue = urgent or bulk
            if queue[0].future.done():  # answered RETRY while it waited
                queue.popleft()
                continue
            wait = self.limiter.reserve(now)
            if wait > 0:
                self._wake_at(now + wait, now)
                break
            job = queue.popleft()
            sequence = conn.next_sequence()
            try:
                out.append(conn.send(job.pdu, sequence))
            except LocalProtocolError as exc:  # this message cannot be encoded: ours to fix
                log.error("smpp_unsendable", bind=self.name, error=str(exc))
                job.future.set_result(PartResult(SendOutcome.FAILED, status=NO_LINK))
                continue
            job.sent_at = now
            self._inflight[sequence] = job
        if out:
            self._write(b"".join(out))

    def _wake_at(self, when: float, now: float) -> None:
        if self._timer is not None and not self._timer.cancelled():
            if self._timer_due <= when:
                return
            self._timer.cancel()
        self._timer_due = when
        self._timer = asyncio.get_running_loop().call_later(max(0.0, when - now), self._wake)

    def _wake(self) -> None:
        self._timer = None
        self.pump()


def _given_up(job: _Job) -> PartResult:
    return PartResult(SendOutcome.RETRY, status=UNCERTAIN if job.uncertain else NO_LINK)
