"""Timings of a bind that are not per-SMSC settings. Tests shorten them."""

from __future__ import annotations

import ssl
from dataclasses import dataclass


@dataclass(frozen=True)
class LinkTuning:
    reconnect_initial: float = 1.0  # first backoff; doubles per failed attempt, +-50% jitter
    reconnect_max: float = 60.0
    connect_timeout: float = 10.0
    bind_timeout: float = 10.0
    throttle_pause: float = 0.5  # first pause after ESME_RTHROTTLED; doubles while it lasts
    throttle_pause_max: float = 10.0
    temporary_retries: int = 3  # ESME_RMSGQFUL / RSYSERR / RX_T_APPN, then RETRY
    temporary_pause: float = 0.5
    submit_deadline: float = 60.0  # a message waits this long for a link, then RETRY
    tick_interval: float = 0.25  # how often the connection's timers are looked at
    # The rate window is 1 s plus this, so that the cap also holds on the SMSC's clock
    # when the network delays one burst more than the next.
    rate_margin: float = 0.05
    max_pdu_length: int = 4096
    unbind_timeout: float = 2.0
    # For SMSCs with ``tls`` on: None verifies against the system's trust store.
    ssl_context: ssl.SSLContext | None = None
