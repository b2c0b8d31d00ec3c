"""UniverseResource: which symbols the market-data assets fetch. Configuration, not code."""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field

DEFAULTS = {
    "ATS_UNIVERSE": "AAPL,MSFT,SPY",
    "ATS_CRYPTO_UNIVERSE": "X:BTCUSD,X:ETHUSD",
    "ATS_OPTION_UNDERLYINGS": "SPY",
}


def _symbols(value: str | None, env: str, fallback: str | None = None) -> list[str]:
    raw = value if value is not None else os.environ.get(env) or fallback or DEFAULTS.get(env, "")
    seen: dict[str, None] = {}
    for symbol in raw.split(","):
        if symbol.strip():
            seen[symbol.strip().upper()] = None
    return list(seen)


class UniverseResource(dg.ConfigurableResource):
    """Symbol lists, each a comma-separated string; unset fields read the environment at run time:
    ``ATS_UNIVERSE`` (stocks), ``ATS_CRYPTO_UNIVERSE`` (Polygon ``X:`` tickers), ``ATS_OPTION_UNDERLYINGS``
    and ``ATS_TICK_UNIVERSE`` (trades and quotes; defaults to the stock universe); ``ATS_RAW_BAR_TIMEFRAMES``
    (raw stock bars kept beside the adjusted ones, ``1d`` by default)."""

    stocks: str | None = Field(default=None, description="defaults to ATS_UNIVERSE, then AAPL,MSFT,SPY")
    crypto: str | None = Field(default=None, description="defaults to ATS_CRYPTO_UNIVERSE, then X:BTCUSD,X:ETHUSD")
    option_underlyings: str | None = Field(default=None, description="defaults to ATS_OPTION_UNDERLYINGS, then SPY")
    ticks: str | None = Field(default=None, description="defaults to ATS_TICK_UNIVERSE, then the stock universe")
    option_expiry_days: int | None = Field(default=None, description="contracts expiring within this many days of "
                                           "the range; defaults to ATS_OPTION_EXPIRY_DAYS, then 14")
    option_moneyness: float | None = Field(default=None, description="keep strikes within this fraction of the "
                                           "spot; defaults to ATS_OPTION_MONEYNESS, then 0.05")
    raw_bars: str | None = Field(default=None, description="timeframes of raw (unadjusted) stock bars to load beside "
                                 "the adjusted ones; defaults to ATS_RAW_BAR_TIMEFRAMES, then 1d ('' for none)")

    def stock_symbols(self) -> list[str]:
        return _symbols(self.stocks, "ATS_UNIVERSE")

    def crypto_symbols(self) -> list[str]:
        return _symbols(self.crypto, "ATS_CRYPTO_UNIVERSE")

    def option_underlying_symbols(self) -> list[str]:
        return _symbols(self.option_underlyings, "ATS_OPTION_UNDERLYINGS")

    def tick_symbols(self) -> list[str]:
        return _symbols(self.ticks, "ATS_TICK_UNIVERSE", fallback=",".join(self.stock_symbols()))

    def raw_timeframes(self) -> list[str]:
        raw = self.raw_bars if self.raw_bars is not None else os.environ.get("ATS_RAW_BAR_TIMEFRAMES", "1d")
        return [t.strip() for t in raw.split(",") if t.strip()]

    def option_selection(self) -> tuple[int, float]:
        """(expiry days, moneyness) of the option contracts options_aggs selects."""
        days = self.option_expiry_days if self.option_expiry_days is not None else int(
            os.environ.get("ATS_OPTION_EXPIRY_DAYS") or 14)
        moneyness = self.option_moneyness if self.option_moneyness is not None else float(
            os.environ.get("ATS_OPTION_MONEYNESS") or 0.05)
        return days, moneyness
