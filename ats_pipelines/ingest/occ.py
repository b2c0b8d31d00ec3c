"""OCC option symbols: ``[O:]ROOT YYMMDD C|P STRIKE*1000`` (shared/api_formats.md §3)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

_OCC = re.compile(r"^(?:O:)?(?P<root>[A-Z0-9.]{1,6})(?P<expiry>\d{6})(?P<type>[CP])(?P<strike>\d{8})$")


@dataclass(frozen=True)
class OptionContract:
    """The parts of one OCC option symbol."""

    underlying: str
    expiration: date
    option_type: str  # 'C' or 'P'
    strike: Decimal

    @property
    def polygon_ticker(self) -> str:
        strike = int(self.strike * 1000)
        return f"O:{self.underlying}{self.expiration:%y%m%d}{self.option_type}{strike:08d}"


def parse_occ(symbol: str) -> OptionContract:
    """Parse ``O:AAPL240315C00170000`` or ``AAPL240315C00170000``; ValueError names what is wrong."""
    match = _OCC.match(symbol.strip().upper())
    if match is None:
        raise ValueError(f"not an OCC option symbol: {symbol!r}")
    expiry = match["expiry"]
    try:
        expiration = date(2000 + int(expiry[:2]), int(expiry[2:4]), int(expiry[4:]))
    except ValueError:
        raise ValueError(f"bad expiration {expiry!r} in option symbol {symbol!r}") from None
    return OptionContract(match["root"], expiration, match["type"], Decimal(match["strike"]) / 1000)
