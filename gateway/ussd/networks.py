"""Which country a mobile network is in, from its MCC (the first 3 digits of MCC+MNC)."""

from __future__ import annotations

from functools import lru_cache

import mobile_codes


@lru_cache(maxsize=4096)
def country_from_network(network_code: str) -> str:
    """ISO 3166 alpha-2 of the caller's network from its MCC (first 3 digits), or ""."""
    mcc = network_code.strip()[:3]
    if len(mcc) != 3 or not mcc.isdigit():
        return ""
    try:
        countries = mobile_codes.mcc(mcc)
    except (KeyError, ValueError):
        return ""
    return str(countries[0].alpha2) if countries else ""
