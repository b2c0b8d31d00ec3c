"""RedisResource: pipelined bulk writes, TTLs and reads of the hot cache."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import dagster as dg
import redis
from pydantic import Field, PrivateAttr

from ats_pipelines.settings import redact_url, redis_url

_BATCH = 1000  # commands per pipeline round trip


class RedisResource(dg.ConfigurableResource):
    """Redis through redis-py (hiredis parser), pipelined without MULTI.

    Keys come from :mod:`ats_pipelines.resources.redis_keys`. Values are returned as ``str``.
    The URL defaults to ``ATS_REDIS_URL``.
    """

    redis_url: str | None = Field(default=None, description="redis://, rediss:// (TLS) or unix:// URL, with redis-py's "
                                  "query options; defaults to ATS_REDIS_URL")

    _client: redis.Redis | None = PrivateAttr(default=None)

    @property
    def url(self) -> str:
        return self.redis_url or redis_url()

    @property
    def safe_url(self) -> str:
        return redact_url(self.url)

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis.from_url(self.url, decode_responses=True)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()

    def send_encoded(self, batches: Iterable[tuple[bytes, int]]) -> int:
        """Send pre-encoded RESP batches (:func:`ats_pipelines.resources.resp.encode`) on one of the client's own
        connections (so TLS, unix sockets, ACL login, database and timeouts are the URL's), reading every batch's
        replies before the next; raises on the first error reply, a failed command inside ``EXEC`` included.
        Returns the number of commands. This is the bulk path: no per-command Python work but reading the
        replies."""
        pool = self.client.connection_pool
        connection = pool.get_connection()
        # The connection's own parser (hiredis) reads the replies, as Connection.read_response does minus its
        # per-reply bookkeeping (host string, health-check clock): this loop runs once per command. Socket errors
        # and timeouts raise the same redis exceptions; error replies come back as values, raised below.
        read = connection._parser.read_response
        sent = 0
        try:
            for payload, count in batches:
                connection.send_packed_command([payload], check_health=False)
                for _ in range(count):
                    _raise_error_reply(read(disable_decoding=True))
                sent += count
        except BaseException:
            connection.disconnect()  # replies may still be in flight: never hand this socket back as is
            raise
        finally:
            pool.release(connection)
        return sent

    def _run_batched(self, commands: Iterable[tuple]) -> int:
        """Send commands through a non-transactional pipeline, ``_BATCH`` at a time; returns the count."""
        sent = 0
        pipe = self.client.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
            sent += 1
            if sent % _BATCH == 0:
                pipe.execute()
        pipe.execute()
        return sent

    def set_values(self, values: Mapping[str, str | bytes | int | float], ttl_seconds: int | None = None) -> int:
        """SET many string keys (with EX when ``ttl_seconds``); returns the number of keys written."""
        if ttl_seconds:
            self._run_batched(("SET", key, value, "EX", ttl_seconds) for key, value in values.items())
        else:  # one MSET a batch: one command for Redis to parse instead of one per key
            items = list(values.items())
            self._run_batched(("MSET", *[part for item in items[i: i + _BATCH] for part in item])
                              for i in range(0, len(items), _BATCH))
        return len(values)

    def set_hashes(self, hashes: Mapping[str, Mapping[str, object]], ttl_seconds: int | None = None,
                   replace: bool = True) -> int:
        """Write many hashes; with ``replace`` the old fields of each hash are dropped first."""

        def commands():
            for key, fields in hashes.items():
                if replace:
                    yield ("DEL", key)
                if fields:
                    flat = [item for pair in fields.items() for item in (pair[0], _text(pair[1]))]
                    yield ("HSET", key, *flat)
                if ttl_seconds:
                    yield ("EXPIRE", key, ttl_seconds)

        self._run_batched(commands())
        return len(hashes)

    def add_history(self, histories: Mapping[str, Sequence[tuple[float, str]]], max_len: int,
                    ttl_seconds: int | None = None) -> int:
        """Add (score, member) pairs to sorted sets and keep only the ``max_len`` highest scores of each."""

        def commands():
            for key, entries in histories.items():
                if entries:
                    yield ("ZADD", key, *(item for score, member in entries for item in (score, member)))
                yield ("ZREMRANGEBYRANK", key, 0, -(max_len + 1))
                if ttl_seconds:
                    yield ("EXPIRE", key, ttl_seconds)

        self._run_batched(commands())
        return len(histories)

    def set_members(self, key: str, members: Iterable[str]) -> None:
        """Make the set at ``key`` hold exactly ``members`` (atomically)."""
        members = list(members)
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(key)
        if members:
            pipe.sadd(key, *members)
        pipe.execute()

    def add_members(self, key: str, *members: str) -> int:
        return self.client.sadd(key, *members) if members else 0

    def remove_members(self, key: str, *members: str) -> int:
        return self.client.srem(key, *members) if members else 0

    def members(self, key: str) -> set[str]:
        return self.client.smembers(key)

    def get(self, key: str) -> str | None:
        return self.client.get(key)

    def get_many(self, keys: Sequence[str]) -> list[str | None]:
        return self.client.mget(keys) if keys else []

    def get_hash(self, key: str) -> dict[str, str]:
        return self.client.hgetall(key)

    def history(self, key: str, count: int | None = None) -> list[tuple[str, float]]:
        """The newest ``count`` (all if None) entries of a sorted-set history, newest first."""
        return self.client.zrevrange(key, 0, -1 if count is None else count - 1, withscores=True)

    def ttl(self, key: str) -> int:
        return self.client.ttl(key)

    def delete(self, *keys: str) -> int:
        return self.client.delete(*keys) if keys else 0


def _raise_error_reply(reply: object) -> None:
    """Raise an error reply, or the first failed command of an ``EXEC`` reply (a list holding the error in its
    place)."""
    if isinstance(reply, redis.ResponseError):
        raise reply
    if isinstance(reply, list):
        for item in reply:
            if isinstance(item, redis.ResponseError):
                raise item


def _text(value: object) -> str | bytes | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | bytes | int | float):
        return value
    return str(value)
