"""A local Alpaca-compatible trading server (api_formats.md §4): orders, positions, account, in memory.

Decimals as strings, RFC 3339 times with nanoseconds, UUID ids, ``client_order_id`` unique (a repeat gets
422 as from Alpaca). Market orders fill at once at :attr:`prices` (all, or :attr:`partial_fill_share` of
them; a symbol in :attr:`reject_symbols` is rejected with 403), except market-on-open ones
(``time_in_force: opg``): as at Alpaca they wait, ``accepted``, for the next NYSE session's open on
:attr:`clock` (the wall clock unless a test sets it), and fill at :attr:`prices` on the first request after it.
``accept_then_stall_seconds`` makes the next submit accept the order and then hold the answer back, as a
network drop after the broker took it; ``unavailable_posts`` answers that many submits with 503 without taking
them; ``unavailable_gets`` (path -> count) answers that many GETs of a path with 503 and ``Retry-After:
retry_after`` (a look-up by ``client_order_id`` that cannot say whether the order exists, positions that
cannot be read).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from ats_pipelines.fakes.json_http import JsonHandler, serve_in_thread
from ats_pipelines.market_calendar import next_session_times


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"  # nanoseconds, as Alpaca sends them


def _now() -> str:
    return _stamp(datetime.now(UTC))


class _Handler(JsonHandler):
    server: FakeAlpacaServer

    def _authorized(self) -> bool:
        if (self.headers.get("APCA-API-KEY-ID"), self.headers.get("APCA-API-SECRET-KEY")) != self.server.credentials:
            self.send(401, {"code": 40110000, "message": "request is not authorized"})
            return False
        return True

    def do_GET(self) -> None:
        if not self._authorized():
            return None
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        with self.server.lock:
            self.server.open_the_session()
            if self.server.unavailable_gets.get(parts.path):
                self.server.unavailable_gets[parts.path] -= 1
                return self.send(503, {"code": 50300000, "message": "service unavailable"},
                                 {"Retry-After": self.server.retry_after})
            if parts.path == "/v2/orders:by_client_order_id":
                order = self.server.by_client_id.get(query.get("client_order_id", ""))
                return self.send(200, order) if order else self.send(404, {"code": 40410000,
                                                                           "message": "order not found"})
            if parts.path == "/v2/orders":
                status = query.get("status", "open")
                chosen = [o for o in self.server.orders.values()
                          if status == "all" or (o["status"] in OPEN) == (status == "open")]
                return self.send(200, chosen)
            if parts.path == "/v2/positions":
                return self.send(200, list(self.server.positions.values()))
            if parts.path == "/v2/account":
                equity = self.server.cash + sum(float(p["market_value"]) for p in self.server.positions.values())
                return self.send(200, {"id": str(uuid.uuid4()), "status": "ACTIVE", "currency": "USD",
                                       "cash": f"{self.server.cash:.2f}", "equity": f"{equity:.2f}",
                                       "last_equity": f"{self.server.last_equity:.2f}",
                                       "buying_power": f"{2 * self.server.cash:.2f}"})
        return self.send(404, {"code": 40410000, "message": "not found"})

    def do_POST(self) -> None:
        if not self._authorized():
            return None
        body = orjson.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        with self.server.lock:
            self.server.open_the_session()
            if self.server.unavailable_posts:  # a 503 before anything was taken
                self.server.unavailable_posts -= 1
                return self.send(503, {"code": 50300000, "message": "service unavailable"})
            if body.get("client_order_id") in self.server.by_client_id:
                return self.send(422, {"code": 40010001, "message": "client_order_id must be unique"})
            if body["symbol"] in self.server.reject_symbols:
                return self.send(403, {"code": 40310000, "message": "insufficient buying power"})
            order = self.server.accept(body)
            stall, self.server.accept_then_stall_seconds = self.server.accept_then_stall_seconds, 0.0
        if stall:
            time.sleep(stall)  # the order is in; the answer comes too late for the client
        return self.send(200, order)

    def do_DELETE(self) -> None:
        if not self._authorized():
            return None
        parts = urlsplit(self.path)
        with self.server.lock:
            self.server.open_the_session()
            if parts.path == "/v2/orders":
                canceled = [o for o in self.server.orders.values() if o["status"] in OPEN]
                for order in canceled:
                    order.update(status="canceled", canceled_at=_now(), updated_at=_now())
                return self.send(207, [{"id": o["id"], "status": 200} for o in canceled])
            if parts.path == "/v2/positions":
                closed = [{"symbol": symbol, "status": 200, "body": self.server.accept({
                    "symbol": symbol, "qty": held["qty"].lstrip("-"),
                    "side": "sell" if held["side"] == "long" else "buy", "type": "market", "time_in_force": "day",
                    "client_order_id": f"liquidate-{uuid.uuid4().hex[:12]}"})}
                    for symbol, held in list(self.server.positions.items())]
                return self.send(207, closed)
        return self.send(404, {"code": 40410000, "message": "not found"})


OPEN = {"new", "accepted", "pending_new", "partially_filled"}


class FakeAlpacaServer(ThreadingHTTPServer):
    """The fake broker on ``127.0.0.1:port``."""

    daemon_threads = True

    def __init__(self, port: int = 0, key_id: str = "demo-key-id", secret: str = "demo-secret") -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.credentials = (key_id, secret)
        self.lock = threading.Lock()
        self.orders: dict[str, dict[str, Any]] = {}
        self.by_client_id: dict[str, dict[str, Any]] = {}
        self.positions: dict[str, dict[str, Any]] = {}
        self.prices: dict[str, float] = {}
        self.fill = True
        self.partial_fill_share = 1.0
        self.reject_symbols: set[str] = set()
        self.accept_then_stall_seconds = 0.0
        self.unavailable_posts = 0
        self.unavailable_gets: dict[str, int] = {}
        self.retry_after = "1"
        self.arrivals: dict[str, float] = {}  # client_order_id -> time.time() when the order arrived
        self.cash = 100_000.0
        self.last_equity = 100_000.0
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.at_open: dict[str, datetime] = {}  # order id of a waiting opg order -> the open it fills at

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def accept(self, body: dict[str, Any]) -> dict[str, Any]:
        """Record an order (filling it when configured) and update the position; returns the Order."""
        self.arrivals[body["client_order_id"]] = time.time()
        qty = float(body["qty"])
        price = self.prices.get(body["symbol"], 100.0)
        opens = next_session_times(self.clock())[0] if body["time_in_force"] == "opg" else None
        filled = qty * self.partial_fill_share if self.fill and opens is None else 0.0
        status = "filled" if filled == qty else "partially_filled" if filled else "accepted"
        order = {"id": str(uuid.uuid4()), "client_order_id": body["client_order_id"], "created_at": _now(),
                 "updated_at": _now(), "submitted_at": _now(), "filled_at": _now() if filled == qty else None,
                 "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, body["symbol"])), "symbol": body["symbol"],
                 "asset_class": "us_equity", "qty": body["qty"], "filled_qty": f"{filled:g}",
                 "filled_avg_price": f"{price:.2f}" if filled else None, "order_class": "", "type": body["type"],
                 "order_type": body["type"], "side": body["side"], "time_in_force": body["time_in_force"],
                 "limit_price": body.get("limit_price"), "stop_price": None, "status": status,
                 "extended_hours": False, "legs": None}
        self.orders[order["id"]] = order
        self.by_client_id[order["client_order_id"]] = order
        if opens is not None:
            self.at_open[order["id"]] = opens
        if filled:
            delta = filled if body["side"] == "buy" else -filled
            self.cash -= delta * price
            self._move(body["symbol"], delta, price)
        return order

    def fill_open_orders(self) -> None:
        """Fill every open order now at :attr:`prices` (as the market would between two runs)."""
        with self.lock:
            for order in self.orders.values():
                if order["status"] in OPEN:
                    self._fill(order, datetime.now(UTC))

    def open_the_session(self) -> None:
        """Fill the waiting market-on-open orders whose open has come on :attr:`clock` (call under the lock)."""
        now = self.clock()
        for order_id, opens in list(self.at_open.items()):
            if opens <= now:
                del self.at_open[order_id]
                if self.orders[order_id]["status"] in OPEN:
                    self._fill(self.orders[order_id], opens)

    def _fill(self, order: dict[str, Any], at: datetime) -> None:
        price = self.prices.get(order["symbol"], 100.0)
        delta = float(order["qty"]) - float(order["filled_qty"])
        order.update(status="filled", filled_qty=order["qty"], filled_avg_price=f"{price:.2f}",
                     filled_at=_stamp(at), updated_at=_now())
        signed = delta if order["side"] == "buy" else -delta
        self.cash -= signed * price
        self._move(order["symbol"], signed, price)

    def _move(self, symbol: str, delta: float, price: float) -> None:
        held = self.positions.get(symbol)
        qty = (float(held["qty"]) if held else 0.0) + delta
        if abs(qty) < 1e-9:
            self.positions.pop(symbol, None)
            return
        entry = float(held["avg_entry_price"]) if held and (float(held["qty"]) > 0) == (qty > 0) else price
        self.positions[symbol] = {
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, symbol)), "symbol": symbol, "exchange": "NASDAQ",
            "asset_class": "us_equity", "qty": f"{qty:g}", "side": "long" if qty > 0 else "short",
            "avg_entry_price": f"{entry:.2f}", "current_price": f"{price:.2f}", "market_value": f"{qty * price:.2f}",
            "cost_basis": f"{qty * entry:.2f}", "unrealized_pl": f"{qty * (price - entry):.2f}",
            "unrealized_plpc": f"{(price - entry) / entry if entry else 0:.6f}",
        }


def serve(port: int = 0) -> AbstractContextManager[FakeAlpacaServer]:
    """Run the fake broker on a background thread for the duration of the block."""
    return serve_in_thread(FakeAlpacaServer(port))
