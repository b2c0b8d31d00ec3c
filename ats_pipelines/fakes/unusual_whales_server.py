"""A local Unusual Whales-compatible server: ``/api/option-trades/flow-alerts`` in the recorded REST format
(api_formats.md §3: numbers as strings, ISO ``created_at``, ``newer_than``/``older_than`` paging, newest
first). :attr:`FakeUnusualWhalesServer.alerts` holds what it serves; :func:`synthetic_alert` makes them.
"""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ats_pipelines.fakes.json_http import JsonHandler, serve_in_thread
from ats_pipelines.fakes.polygon_data import base_price

RULES = ("RepeatedHits", "FloorTradeLargeCap", "SweepsFollowedByFloor", "RepeatedHitsAscendingFill")


def synthetic_alert(ticker: str, created: datetime, option_type: str = "call", ask_share: float = 0.8,
                    index: int = 0) -> dict[str, Any]:
    """One flow alert as the REST API sends it; ``ask_share`` of the premium traded on the ask side."""
    spot = round(base_price(ticker), 2)
    expiry = (created + timedelta(days=(4 - created.weekday()) % 7 + 7 * (1 + index % 3))).date()
    strike = round(spot * (1.05 if option_type == "call" else 0.95))
    premium = 50_000 + 25_000 * (index % 7)
    chain = f"{ticker}{expiry:%y%m%d}{'C' if option_type == 'call' else 'P'}{strike * 1000:08d}"
    ms = int(created.timestamp() * 1000)
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"uw:{chain}:{ms}")),
        "rule_id": str(uuid.uuid5(uuid.NAMESPACE_URL, RULES[index % len(RULES)])),
        "alert_rule": RULES[index % len(RULES)], "ticker": ticker, "option_chain": chain, "type": option_type,
        "expiry": expiry.isoformat(), "expiry_count": 1, "strike": f"{strike}", "underlying_price": f"{spot}",
        "price": "2.15", "bid": "2.10", "ask": "2.20", "total_premium": f"{premium}.00",
        "total_ask_side_prem": f"{premium * ask_share:.2f}", "total_bid_side_prem": f"{premium * (1 - ask_share):.2f}",
        "total_size": 250 + index, "trade_count": 3 + index % 5, "volume": 1200 + 10 * index,
        "open_interest": 800 + index, "volume_oi_ratio": f"{(1200 + 10 * index) / (800 + index):.4f}",
        "iv_start": "0.3012", "iv_end": "0.3105", "has_sweep": index % 2 == 0, "has_floor": index % 3 == 0,
        "has_multileg": False, "has_singleleg": True, "all_opening_trades": index % 4 == 0,
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "start_time": ms - 3_000, "end_time": ms,
        "sector": "Technology", "marketcap": "2950000000000", "er_time": "postmarket",
        "next_earnings_date": "2025-07-31", "issue_type": "Common Stock",
    }


def demo_alerts(now: datetime, tickers: tuple[str, ...] = ("AAPL", "MSFT", "NVDA", "SPY", "TSLA"),
                count: int = 60) -> list[dict[str, Any]]:
    """``count`` alerts over the hour before ``now``: calls and puts, bought and sold, across ``tickers``."""
    return [
        synthetic_alert(tickers[i % len(tickers)], now - timedelta(minutes=i), ("call", "put")[i % 2],
                        (0.85, 0.15, 0.5)[i % 3], index=i)
        for i in range(count)
    ]


class _Handler(JsonHandler):
    server: FakeUnusualWhalesServer

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {self.server.api_key}":
            return self.send(401, {"message": "Unauthorized"})
        parts = urlsplit(self.path)
        if parts.path != "/api/option-trades/flow-alerts":
            return self.send(404, {"msg": "Not Found", "path": parts.path})
        query = dict(parse_qsl(parts.query))
        newer, older = int(query.get("newer_than", 0)), int(query.get("older_than", 2**62))
        limit = min(max(int(query.get("limit", 100)), 1), 200)
        chosen = [a for a in self.server.alerts if newer < _start(a) < older]
        chosen.sort(key=_start, reverse=True)
        self.send(200, {"data": chosen[:limit]})


def _start(alert: Any) -> int:
    return alert.get("start_time", 0) if isinstance(alert, dict) else 0


class FakeUnusualWhalesServer(ThreadingHTTPServer):
    """The fake API on ``127.0.0.1:port``; set :attr:`alerts` to what it should answer."""

    daemon_threads = True

    def __init__(self, port: int = 0, api_key: str = "demo-key", alerts: list[Any] | None = None):
        super().__init__(("127.0.0.1", port), _Handler)
        self.api_key = api_key
        self.alerts: list[Any] = alerts or []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


def serve(port: int = 0, alerts: list[Any] | None = None) -> AbstractContextManager[FakeUnusualWhalesServer]:
    """Run the fake server on a background thread for the duration of the block."""
    return serve_in_thread(FakeUnusualWhalesServer(port, alerts=alerts))
