"""Alpaca's trading API v2 (api_formats.md §4) on the shared HTTP layer: AlpacaResource and AlpacaBroker.

Paper trading by default (``ALPACA_BASE_URL``). The key id and secret travel only in the
``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY`` headers. Submitting an order is never retried blindly: when
the answer is lost (timeout, dropped connection, 5xx) the order is looked up by its ``client_order_id``
first, and only sent again if the broker does not have it, so a retried submit can never place a second
order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import Field

from ats_pipelines.resources.broker import Account, BrokerOrder, BrokerPosition, OrderRequest
from ats_pipelines.resources.http import ApiClient, ApiError, ApiNotFoundError, ApiUncertainError
from ats_pipelines.resources.vendor import VendorApiResource


class AlpacaBroker:
    """The Broker interface over an Alpaca :class:`ApiClient`: one account for every strategy."""

    account_wide = True
    concurrent_submits = 4  # the HTTP client's connections are shared by threads; the rate limit still holds

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def submit_order(self, request: OrderRequest, before_send: Callable[[], None] | None = None) -> BrokerOrder:
        body = {"symbol": request.symbol, "qty": _decimal(request.qty), "side": request.side, "type": request.type,
                "time_in_force": request.time_in_force, "client_order_id": request.client_order_id}
        if request.limit_price is not None:
            body["limit_price"] = _decimal(request.limit_price)
        for attempt in range(2):
            try:
                return _order(self.client.request_json("POST", "/v2/orders", json=body, idempotent=False,
                                                       before_send=before_send))
            except ApiUncertainError:
                existing = self._look_up_after_a_lost_answer(request.client_order_id)
                if existing is not None:
                    return existing  # the broker took it before the answer was lost
                if attempt:
                    raise
            except ApiError as exc:
                if exc.status == 422 and "client_order_id" in str(exc):
                    # The broker holds an order with this id: it is ours, whatever the look-up says.
                    existing = self._look_up_after_a_lost_answer(request.client_order_id)
                    if existing is not None:
                        return existing
                    raise ApiUncertainError(exc.vendor, exc.status, exc.path, str(exc)) from None
                raise
        raise AssertionError("unreachable")

    def _look_up_after_a_lost_answer(self, client_order_id: str) -> BrokerOrder | None:
        """The order by its id, None when the broker says it has none; a look-up that itself gets no clear
        answer (5xx, timeouts after every retry) is :class:`ApiUncertainError`: the broker may hold it."""
        try:
            return self.order_by_client_id(client_order_id)
        except ApiUncertainError:
            raise
        except ApiError as exc:
            raise ApiUncertainError(exc.vendor, exc.status, exc.path, f"look-up after a lost answer: {exc}") from None

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        try:
            return _order(self.client.get_json("/v2/orders:by_client_order_id",
                                               {"client_order_id": client_order_id}))
        except ApiNotFoundError:
            return None

    def open_orders(self) -> list[BrokerOrder]:
        return [_order(o) for o in self.client.get_json("/v2/orders", {"status": "open", "limit": 500})]

    def orders(self, after: datetime | None = None) -> list[BrokerOrder]:
        """Every order (open and closed) created after ``after``, for reconciliation."""
        params = {"status": "all", "limit": 500, "direction": "asc", **({"after": after.isoformat()} if after else {})}
        return [_order(o) for o in self.client.get_json("/v2/orders", params)]

    def cancel_all_orders(self) -> int:
        return len(self.client.request_json("DELETE", "/v2/orders") or [])

    def positions(self) -> list[BrokerPosition]:
        """Open positions; a short one has a negative quantity whichever sign Alpaca sends (unconfirmed)."""
        return [BrokerPosition(p["symbol"], -abs(float(p["qty"])) if p.get("side") == "short" else float(p["qty"]),
                               float(p["avg_entry_price"]), float(p["current_price"]), float(p["unrealized_pl"]),
                               float(p["unrealized_plpc"]))
                for p in self.client.get_json("/v2/positions")]

    def close_all_positions(self) -> list[BrokerOrder]:
        answers = self.client.request_json("DELETE", "/v2/positions", params={"cancel_orders": "true"}) or []
        return [_order(a["body"]) for a in answers if isinstance(a.get("body"), dict)]


    def account(self) -> Account:
        body = self.client.get_json("/v2/account")
        return Account(float(body["equity"]), float(body.get("last_equity") or body["equity"]))


class AlpacaResource(VendorApiResource):
    """Alpaca trading API v2: ``ALPACA_API_KEY_ID`` (``api_key``), ``ALPACA_API_SECRET_KEY``, and
    ``ALPACA_BASE_URL`` (default the paper host)."""

    VENDOR: ClassVar[str] = "Alpaca"
    CLIENT: ClassVar[type[ApiClient]] = ApiClient
    DEFAULT_BASE_URL: ClassVar[str] = "https://paper-api.alpaca.markets"
    BASE_URL_ENV: ClassVar[str] = "ALPACA_BASE_URL"
    RATE_ENV: ClassVar[str] = "ALPACA_REQUESTS_PER_MINUTE"
    DEFAULT_RATE: ClassVar[float] = 200

    secret_key: str = Field(description="API secret, sent only in the APCA-API-SECRET-KEY header")
    timeout_seconds: float = Field(default=10.0)

    def auth_headers(self) -> dict[str, str]:
        if not self.secret_key:
            raise ApiError(self.VENDOR, None, "-", "ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY must be set")
        return {"APCA-API-KEY-ID": self.api_key, "APCA-API-SECRET-KEY": self.secret_key}

    @contextmanager
    def broker(self) -> Iterator[AlpacaBroker]:
        with self.client() as client:
            yield AlpacaBroker(client)


def _decimal(value: float) -> str:
    """Alpaca's decimals are strings: ``10``, ``0.5``, ``190.25``."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _time(value: str | None) -> datetime | None:
    """RFC 3339 with up to nanoseconds, as Alpaca sends it, to a UTC datetime (microseconds)."""
    if not value:
        return None
    stamp = re.sub(r"\.(\d+)", lambda m: "." + m[1][:6].ljust(6, "0"), value.replace("Z", "+00:00"))
    parsed = datetime.fromisoformat(stamp)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _order(body: dict[str, Any]) -> BrokerOrder:
    created = _time(body.get("created_at"))
    return BrokerOrder(
        broker_order_id=body["id"], client_order_id=body["client_order_id"], symbol=body["symbol"], side=body["side"],
        qty=float(body.get("qty") or 0), type=body.get("type") or body.get("order_type") or "market",
        status=body["status"], filled_qty=float(body.get("filled_qty") or 0),
        filled_avg_price=float(body["filled_avg_price"]) if body.get("filled_avg_price") else None,
        limit_price=float(body["limit_price"]) if body.get("limit_price") else None,
        created_at=created, updated_at=_time(body.get("updated_at")) or created,
    )
