"""Who is on the other end: the client's address, through trusted proxies only.

``X-Forwarded-For`` is believed only as far as the hops that added it are trusted:
starting from the connection's peer, each address listed in ``GATEWAY_TRUSTED_PROXIES``
hands over to the address it says it was talking to (the entry to its left), and the
first untrusted address is the client. Without a trusted peer the header is ignored,
so nobody can pick the address the sign-in throttle counts them under.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from gateway.settings import IPNetwork


def _trusted(address: str, proxies: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_address(
    peer: str | None, forwarded_for: Sequence[str], proxies: Sequence[IPNetwork]
) -> str:
    """``forwarded_for``: every ``X-Forwarded-For`` header value, in order."""
    current = peer or "unknown"
    if not proxies:
        return current
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    while _trusted(current, proxies) and hops:
        candidate = hops.pop()
        try:
            current = str(ipaddress.ip_address(candidate))
        except ValueError:
            return "invalid"
    return current
