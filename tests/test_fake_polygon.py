"""The fake Polygon server cannot drift from the real shapes: its answers are compared, key by key and type
by type, with the recorded responses in shared/polygon_fixtures (copied to tests/fixtures/polygon)."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest

from ats_pipelines.fakes import polygon_data

FIXTURES = Path(__file__).parent / "fixtures" / "polygon"


def fixture(relative: str):
    return orjson.loads((FIXTURES / relative).read_bytes())


def json_type(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def shape(record: dict) -> dict[str, str]:
    return {key: json_type(value) for key, value in record.items()}


def assert_same_shape(fake: dict, real: dict, optional: set[str] = frozenset()) -> None:
    """Same keys (bar the documented optional ones) and the same JSON type for each."""
    fake_shape, real_shape = shape(fake), shape(real)
    assert set(real_shape) - optional <= set(fake_shape), "fake lacks keys the real API sends"
    assert set(fake_shape) <= set(real_shape) | optional, "fake sends keys the real API does not"
    for key in set(fake_shape) & set(real_shape):
        assert fake_shape[key] == real_shape[key], key


def get(server, path: str, **params) -> dict:
    response = httpx.get(server.base_url + path, params=params, headers={"Authorization": "Bearer demo-key"})
    assert response.status_code == 200, response.text
    return response.json()


def test_stock_aggregates_match_the_recorded_response(fake_polygon):
    real = fixture("v2/aggs/ticker/AAPL/range/1/day/2005-04-01/2005-04-04.json")
    fake = get(fake_polygon, "/v2/aggs/ticker/AAPL/range/1/day/2024-03-01/2024-03-04")
    assert_same_shape(fake, real, optional={"count", "next_url"})
    assert_same_shape(fake["results"][0], real["results"][0])
    assert all(isinstance(bar["t"], int) for bar in fake["results"])


def test_minute_aggregates_paginate_like_the_spec_example(fake_polygon):
    real = fixture("openapi_examples/rest/v2/aggs/ticker/_stocksTicker_/range/_multiplier_/_timespan_/_from_/_to_.json")
    page = get(fake_polygon, "/v2/aggs/ticker/AAPL/range/1/minute/2024-03-04/2024-03-05", limit=500)
    assert_same_shape(page, real)
    assert page["next_url"].startswith(fake_polygon.base_url + "/v2/aggs/ticker/AAPL/range/1/minute/")
    bars, url = list(page["results"]), page["next_url"]
    while url:
        response = httpx.get(url, headers={"Authorization": "Bearer demo-key"}).json()
        bars += response["results"]
        url = response.get("next_url")
    assert len(bars) == sum(len(polygon_data.minute_bars("AAPL", d)) for d in
                            (polygon_data.date(2024, 3, 4), polygon_data.date(2024, 3, 5)))


def test_crypto_aggregates_match_the_spec_example(fake_polygon):
    real = fixture("openapi_examples/rest/v2/aggs/ticker/_cryptoTicker_/range/_multiplier_/_timespan_/_from_/_to_.json")
    fake = get(fake_polygon, "/v2/aggs/ticker/X:BTCUSD/range/1/day/2024-03-02/2024-03-03")
    assert_same_shape(fake, real, optional={"next_url"})
    assert_same_shape(fake["results"][0], real["results"][0])
    assert any(v != int(v) for v in (bar["v"] for bar in fake["results"]))  # fractional volume


@pytest.mark.parametrize(("endpoint", "recorded", "optional"), [
    ("/v3/trades/AAPL", "v3/trades/AAPL_limit_2.json", {"trf_id", "trf_timestamp", "correction"}),
    ("/v3/quotes/AAPL", "v3/quotes/AAPL.json", {"conditions", "indicators", "trf_timestamp"}),
])
def test_trades_and_quotes_match_the_recorded_responses(fake_polygon, endpoint, recorded, optional):
    real = fixture(recorded)
    fake = get(fake_polygon, endpoint, **{"timestamp.gte": "2024-03-04", "timestamp.lt": "2024-03-05",
                                          "order": "asc", "limit": 50})
    assert_same_shape(fake, real, optional={"next_url"})
    for record in fake["results"]:
        assert_same_shape(record, real["results"][0], optional=optional)
    stamps = [r["sip_timestamp"] for r in fake["results"]]
    assert stamps == sorted(stamps) and all(s > 2**53 for s in stamps)  # ns, beyond float precision


def test_options_trades_and_quotes_match_the_spec_examples(fake_polygon):
    for kind in ("trades", "quotes"):
        real = fixture(f"openapi_examples/rest/v3/{kind}/_optionsTicker_.json")
        fake = get(fake_polygon, f"/v3/{kind}/O:SPY240315C00510000", **{"timestamp.gte": "2024-03-04",
                                                                        "timestamp.lt": "2024-03-05"})
        assert_same_shape(fake["results"][0], real["results"][0], optional={"conditions", "correction",
                                                                            "participant_timestamp"})


def test_option_contracts_match_the_recorded_response(fake_polygon):
    real = fixture("v3/reference/options/contracts.json")
    fake = get(fake_polygon, "/v3/reference/options/contracts", underlying_ticker="SPY", as_of="2024-03-04",
               **{"expiration_date.lte": "2024-03-15"}, limit=1000)
    assert_same_shape(fake["results"][0], real["results"][0], optional={"additional_underlyings", "correction"})


def test_splits_and_dividends_match_the_recorded_responses_and_the_spec(fake_polygon):
    """Recorded pages lack ``id`` (and dividends ``currency``), which the OpenAPI spec lists and the fake sends."""
    splits = get(fake_polygon, "/v3/reference/splits", ticker="NVDA")
    assert [s["execution_date"] for s in splits["results"]] == ["2024-06-10"]
    assert_same_shape(splits["results"][0], fixture("v3/reference/splits.json")["results"][0], optional={"id"})
    assert_same_shape(splits["results"][0], fixture("openapi_examples/rest/v3/reference/splits.json")["results"][0])
    dividends = get(fake_polygon, "/v3/reference/dividends", ticker="MSFT",
                    **{"ex_dividend_date.gte": "2024-01-01", "ex_dividend_date.lte": "2024-12-31"})
    assert_same_shape(dividends["results"][0], fixture("v3/reference/dividends.json")["results"][0],
                      optional={"id", "currency"})
    assert all("2024" in d["ex_dividend_date"] for d in dividends["results"])


def test_errors_have_the_observed_bodies(fake_polygon):
    url = fake_polygon.base_url + "/v2/aggs/ticker/AAPL/range/1/day/2024-03-01/2024-03-04"
    missing = httpx.get(url)
    wrong = httpx.get(url, headers={"Authorization": "Bearer nope"})
    assert (missing.status_code, missing.json()["error"]) == (401, "API Key was not provided")
    assert (wrong.status_code, wrong.json()["error"]) == (401, "Unknown API Key")
    assert set(wrong.json()) == {"status", "request_id", "error"}
    fake_polygon.faults.rate_limit_first = fake_polygon.faults.served + 1  # the next request
    limited = httpx.get(url, headers={"Authorization": "Bearer demo-key"})
    assert limited.status_code == 429 and "maximum requests per minute" in limited.json()["error"]
