"""The Alpaca broker on the shared HTTP layer, against the local Alpaca-compatible server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ats_pipelines.fakes.alpaca_server import FakeAlpacaServer, serve
from ats_pipelines.resources.alpaca import AlpacaBroker, AlpacaResource
from ats_pipelines.resources.broker import OrderRequest
from ats_pipelines.resources.http import ApiError


@pytest.fixture
def alpaca() -> Iterator[FakeAlpacaServer]:
    with serve() as server:
        server.prices = {"AAPL": 190.25, "MSFT": 410.0}
        yield server


@pytest.fixture
def broker(alpaca) -> Iterator[AlpacaBroker]:
    resource = AlpacaResource(api_key="demo-key-id", secret_key="demo-secret", base_url=alpaca.base_url,
                              timeout_seconds=0.5, backoff_seconds=0.01, requests_per_minute=6000)
    with resource.broker() as broker:
        yield broker


def test_an_order_fills_and_becomes_a_position(alpaca, broker):
    order = broker.submit_order(OrderRequest("sig-aapl-1", "AAPL", "buy", 10))
    assert (order.status, order.filled_qty, order.filled_avg_price) == ("filled", 10.0, 190.25)
    assert order.created_at.tzinfo is not None and order.created_at.microsecond > 0
    assert broker.order_by_client_id("sig-aapl-1") == order
    [position] = broker.positions()
    assert (position.symbol, position.qty, position.avg_entry_price) == ("AAPL", 10.0, 190.25)


def test_a_submit_whose_answer_is_lost_after_the_broker_took_it_places_exactly_one_order(alpaca, broker):
    alpaca.accept_then_stall_seconds = 2.0  # longer than the client's 0.5 s timeout
    order = broker.submit_order(OrderRequest("sig-aapl-2", "AAPL", "buy", 5))
    assert order.client_order_id == "sig-aapl-2" and len(alpaca.orders) == 1
    again = broker.submit_order(OrderRequest("sig-aapl-2", "AAPL", "buy", 5))  # a re-run of the same signal
    assert again.broker_order_id == order.broker_order_id and len(alpaca.orders) == 1


def test_partial_fills_rejections_cancels_and_liquidation(alpaca, broker):
    alpaca.partial_fill_share = 0.4
    partial = broker.submit_order(OrderRequest("sig-msft-1", "MSFT", "buy", 10))
    assert (partial.status, partial.filled_qty, partial.is_open) == ("partially_filled", 4.0, True)
    alpaca.reject_symbols = {"TSLA"}
    with pytest.raises(ApiError, match="insufficient buying power") as rejected:
        broker.submit_order(OrderRequest("sig-tsla-1", "TSLA", "buy", 1))
    assert rejected.value.status == 403
    assert [o.client_order_id for o in broker.open_orders()] == ["sig-msft-1"]
    assert broker.cancel_all_orders() == 1 and broker.open_orders() == []
    closing = broker.close_all_positions()
    assert [(o.symbol, o.side, o.qty) for o in closing] == [("MSFT", "sell", 4.0)]


def test_bad_credentials_and_requests_are_clear_errors(alpaca):
    resource = AlpacaResource(api_key="wrong", secret_key="wrong", base_url=alpaca.base_url)
    with resource.broker() as broker, pytest.raises(ApiError, match="not authorized"):
        broker.open_orders()
    with pytest.raises(ValueError, match="48"):
        OrderRequest("x" * 49, "AAPL", "buy", 1)
