"""Every Redis connection, the bulk path included, is the one redis-py builds from the URL: TLS with the URL's
certificates and verification, ACL login and database number, unix sockets and timeouts. Each test starts its
own Debian ``redis-server`` (with a self-signed certificate made by ``openssl`` for TLS)."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pytest
import redis as redis_py

from ats_pipelines.defs.cache.assets import feature_cache
from ats_pipelines.resources import RedisResource
from ats_pipelines.resources.resp import encode
from tests.conftest import TEST_REDIS_URL, free_port
from tests.test_cache import refresh, snapshot, write_features

USER, PASSWORD = "ats_cache", "tls-only-s3cret"
TEST_DB = int(TEST_REDIS_URL.rsplit("/", 1)[1])


@contextmanager
def redis_server(folder: Path, *args: str, ready_url: str) -> Iterator[None]:
    """A ``redis-server`` of its own (no persistence) with ``args``, until the block ends."""
    log = folder / "redis.log"
    process = subprocess.Popen(["redis-server", "--save", "", "--appendonly", "no", "--dir", str(folder),
                                "--logfile", str(log), *args])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                redis_py.Redis.from_url(ready_url).ping()
                break
            except redis_py.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start: {log.read_text() if log.exists() else ''}")
                time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A Redis that speaks only TLS (no plain port), requires client certificates and an ACL login.
    Yields (the rediss:// URL with certificates, verification, user, password and database, the TLS port)."""
    cert, key = tmp_path / "redis.crt", tmp_path / "redis.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    port = free_port()
    url = (f"rediss://{USER}:{PASSWORD}@localhost:{port}/3?ssl_ca_certs={cert}&ssl_cert_reqs=required"
           f"&ssl_check_hostname=true&ssl_certfile={cert}&ssl_keyfile={key}")
    with redis_server(tmp_path, "--port", "0", "--tls-port", str(port), "--tls-cert-file", str(cert),
                      "--tls-key-file", str(key), "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "yes",
                      "--user", "default", "off", "--user", USER, "on", f">{PASSWORD}", "~*", "&*", "+@all",
                      ready_url=url):
        yield url, port


def test_the_feature_cache_refresh_lands_every_key_over_tls(db, cache, tls_redis):
    url, port = tls_redis
    write_features(db)
    refresh(feature_cache, db, cache, partitions=["2024-03-07"], history=50, ttl_seconds=600)
    expected = snapshot(cache)  # the same refresh over plain TCP to the test Redis
    assert len(expected) == 8
    cache.client.flushdb()

    over_tls = RedisResource(redis_url=url)
    refresh(feature_cache, db, over_tls, partitions=["2024-03-07"], history=50, ttl_seconds=600)
    assert snapshot(over_tls) == expected
    assert over_tls.client.connection_pool.connection_kwargs["db"] == 3  # the URL's database, after the ACL login
    over_tls.close()
    assert cache.client.dbsize() == 0
    # The server has no plain port, and its TLS port refuses a client speaking in clear: nothing went in clear.
    with pytest.raises(redis_py.ConnectionError):
        redis_py.Redis(host="127.0.0.1", port=port, username=USER, password=PASSWORD, socket_timeout=5).ping()
    # Verification is the URL's: without the certificate authority the bulk path refuses the server.
    unverified = RedisResource(redis_url=re.sub(r"ssl_ca_certs=[^&]*&", "", url))
    with pytest.raises(redis_py.ConnectionError, match="certificate verify failed"):
        unverified.send_encoded(encode(pl.DataFrame({"key": ["k"]}), ["SET", pl.col("key"), "v"]))


@pytest.fixture
def unix_redis(tmp_path: Path) -> Iterator[str]:
    """A Redis listening only on a unix socket (the debug command on, to make it slow on demand)."""
    socket_path = tmp_path / "redis.sock"
    url = f"unix://{socket_path}?db={TEST_DB}"
    with redis_server(tmp_path, "--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700",
                      "--enable-debug-command", "yes", ready_url=url):
        yield url


def test_a_unix_socket_url_lands_the_keys_on_that_server_not_on_tcp(db, cache, unix_redis):
    write_features(db)
    over_socket = RedisResource(redis_url=unix_redis)
    refresh(feature_cache, db, over_socket, partitions=["2024-03-07"], history=50, ttl_seconds=600)
    assert len(snapshot(over_socket)) == 8
    assert over_socket.get("feature:AAPL:sma_20:1m") == str(149 * 0.5)
    over_socket.close()
    assert cache.client.dbsize() == 0  # the TCP Redis on 127.0.0.1:6379, same database number: untouched


def test_the_bulk_path_keeps_the_urls_timeout_and_recovers(unix_redis):
    slow = RedisResource(redis_url=unix_redis + "&socket_timeout=0.1")
    with pytest.raises(redis_py.TimeoutError):
        slow.send_encoded(encode(pl.DataFrame({"seconds": ["0.5"]}), ["DEBUG", "SLEEP", pl.col("seconds")]))
    redis_py.Redis.from_url(unix_redis).ping()  # no timeout: returns once the server is awake again
    # The timed-out connection (its reply still due) was dropped, not handed back: the next calls start clean.
    assert slow.send_encoded(encode(pl.DataFrame({"key": ["a", "b"]}), ["SET", pl.col("key"), pl.col("key")])) == 2
    assert slow.get_many(["a", "b"]) == ["a", "b"]
    slow.close()


def test_a_failed_command_inside_a_transaction_is_raised(cache):
    cache.set_values({"a-string": "x"})
    frame = pl.DataFrame({"key": ["a-string"]})
    with pytest.raises(redis_py.ResponseError, match="WRONGTYPE"):
        cache.send_encoded(encode(frame, ["MULTI"], ["ZADD", pl.col("key"), "1", "m"], ["EXEC"]))
    assert cache.send_encoded(encode(frame, ["SET", pl.col("key"), "y"])) == 1  # the connection is usable again
    assert cache.get("a-string") == "y"
