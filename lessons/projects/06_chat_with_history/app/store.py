"""Where conversations live: one small interface, two implementations (memory and Redis).

The endpoints only ever talk to a `ConversationStore`; which one they get is configuration
(`STORE`, see app/config.py), chosen once in `create_store()`.

Concurrency: two requests may add messages to one conversation at the same time. Each one
holds the conversation's lock (`store.lock(id)`) from reading the history until its
user+assistant pair is stored, so each reply is generated from a history that contains its
own user message and every earlier turn, and no append is lost. `append_turn()` stores the
pair in one step (a MULTI/EXEC transaction in Redis), so the history is always whole pairs.
"""

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import WatchError

from app.config import Settings
from app.models import Conversation, ConversationSummary, Message, Usage

# How often a request waiting for a conversation's Redis lock tries again, in seconds.
LOCK_POLL_S = 0.02


class ConversationBusyError(Exception):
    """Another request held the conversation's lock for too long."""


class ConversationStore(Protocol):
    """What the endpoints need from a store. Ownership checks are the endpoints' job."""

    async def create(self, conversation: Conversation) -> None:
        """Store a new conversation (with no messages)."""
        ...

    async def get(self, conversation_id: str) -> Conversation | None:
        """The conversation with its messages and usage totals, or None."""
        ...

    async def list_for(self, owner: str) -> list[ConversationSummary]:
        """The owner's conversations, newest first."""
        ...

    async def delete(self, conversation_id: str) -> bool:
        """Remove the conversation and its messages; False when there was none."""
        ...

    async def append_turn(self, conversation_id: str, user: Message, assistant: Message, usage: Usage) -> None:
        """Append one user+assistant pair and add `usage` to the totals, all in one step."""
        ...

    def lock(self, conversation_id: str) -> AbstractAsyncContextManager[None]:
        """Exclusive access to one conversation (raises ConversationBusyError on timeout)."""
        ...

    async def close(self) -> None: ...


class MemoryStore:
    """Conversations in this process's memory: lost on restart, not shared between processes."""

    def __init__(self, lock_wait_s: float = 60.0) -> None:
        # TODO: a dict of conversations by id, and one asyncio.Lock per conversation
        self._lock_wait_s = lock_wait_s

    async def create(self, conversation: Conversation) -> None:
        raise NotImplementedError("TODO: MemoryStore.create (README.md, 'Storage')")

    async def get(self, conversation_id: str) -> Conversation | None:
        raise NotImplementedError("TODO: MemoryStore.get")

    async def list_for(self, owner: str) -> list[ConversationSummary]:
        raise NotImplementedError("TODO: MemoryStore.list_for")

    async def delete(self, conversation_id: str) -> bool:
        raise NotImplementedError("TODO: MemoryStore.delete")

    async def append_turn(self, conversation_id: str, user: Message, assistant: Message, usage: Usage) -> None:
        raise NotImplementedError("TODO: MemoryStore.append_turn")

    @asynccontextmanager
    async def lock(self, conversation_id: str) -> AsyncIterator[None]:
        raise NotImplementedError("TODO: MemoryStore.lock: one asyncio.Lock per conversation")
        yield

    async def close(self) -> None:
        return None


class RedisStore:
    """Conversations in Redis: they survive restarts and are shared by every app process.

    Layout (every key starts with the prefix, "chat:" by default):

    - `chat:conversation:{id}`: a hash: id, owner, system, model, created_at, and the
      usage totals input_tokens and output_tokens (HINCRBY).
    - `chat:conversation:{id}:messages`: a list, one JSON message per entry, oldest first
      (RPUSH appends).
    - `chat:user:{owner}:conversations`: a sorted set of the owner's conversation ids,
      scored by creation time (the listing reads it; no SCAN over the whole database).
    - `chat:conversation:{id}:lock`: the conversation's lock while a turn is in progress.
    """

    def __init__(self, url: str, prefix: str = "chat:", lock_timeout_s: float = 90.0, lock_wait_s: float = 60.0) -> None:
        # from_url does not connect yet: the first command does.
        self._redis = aioredis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._lock_timeout_s = lock_timeout_s
        self._lock_wait_s = lock_wait_s

    def _key(self, conversation_id: str) -> str:
        return f"{self._prefix}conversation:{conversation_id}"

    def _messages_key(self, conversation_id: str) -> str:
        return f"{self._prefix}conversation:{conversation_id}:messages"

    def _owner_key(self, owner: str) -> str:
        return f"{self._prefix}user:{owner}:conversations"

    async def create(self, conversation: Conversation) -> None:
        raise NotImplementedError("TODO: RedisStore.create (README.md, 'Redis layout')")

    async def get(self, conversation_id: str) -> Conversation | None:
        raise NotImplementedError("TODO: RedisStore.get")

    async def list_for(self, owner: str) -> list[ConversationSummary]:
        raise NotImplementedError("TODO: RedisStore.list_for")

    async def delete(self, conversation_id: str) -> bool:
        raise NotImplementedError("TODO: RedisStore.delete: the hash, the list and the listing entry")

    async def append_turn(self, conversation_id: str, user: Message, assistant: Message, usage: Usage) -> None:
        raise NotImplementedError("TODO: RedisStore.append_turn: RPUSH the pair, HINCRBY the totals")

    @asynccontextmanager
    async def lock(self, conversation_id: str) -> AsyncIterator[None]:
        raise NotImplementedError("TODO: RedisStore.lock: a Redis lock per conversation")
        yield

    async def _release(self, key: str, token: str) -> None:
        """Delete the lock if it is still ours (it may have expired and been taken since)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                if await pipe.get(key) == token:
                    pipe.multi()
                    pipe.delete(key)
                    await pipe.execute()
                else:
                    await pipe.unwatch()
            except WatchError:  # changed between GET and DEL: no longer ours
                pass

    async def close(self) -> None:
        await self._redis.aclose()


def create_store(settings: Settings) -> ConversationStore:
    """The store STORE asks for: redis (needs REDIS_URL) or memory."""
    if settings.store_kind == "redis":
        if not settings.redis_url:
            raise RuntimeError("STORE=redis needs REDIS_URL (e.g. redis://localhost:6379/0)")
        return RedisStore(
            settings.redis_url,
            prefix=settings.redis_key_prefix,
            lock_timeout_s=settings.llm_timeout_s * 3,
            lock_wait_s=settings.conversation_lock_wait_s,
        )
    return MemoryStore(lock_wait_s=settings.conversation_lock_wait_s)
