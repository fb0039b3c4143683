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
        self._conversations: dict[str, Conversation] = {}
        # One asyncio.Lock per conversation. The event loop runs one coroutine at a time,
        # so dict operations between two awaits are already atomic; the lock is for the
        # await in the middle of a turn (the model call).
        self._locks: dict[str, asyncio.Lock] = {}
        self._lock_wait_s = lock_wait_s

    async def create(self, conversation: Conversation) -> None:
        self._conversations[conversation.id] = conversation.model_copy(deep=True)

    async def get(self, conversation_id: str) -> Conversation | None:
        found = self._conversations.get(conversation_id)
        # A copy: callers must not change the stored one behind the store's back.
        return found.model_copy(deep=True) if found is not None else None

    async def list_for(self, owner: str) -> list[ConversationSummary]:
        mine = [c for c in self._conversations.values() if c.owner == owner]
        mine.sort(key=lambda c: c.created_at, reverse=True)
        return [
            ConversationSummary(
                id=c.id,
                system=c.system,
                model=c.model,
                created_at=c.created_at,
                message_count=len(c.messages),
                usage=c.usage,
            )
            for c in mine
        ]

    async def delete(self, conversation_id: str) -> bool:
        self._locks.pop(conversation_id, None)
        return self._conversations.pop(conversation_id, None) is not None

    async def append_turn(self, conversation_id: str, user: Message, assistant: Message, usage: Usage) -> None:
        conversation = self._conversations.get(conversation_id)
        if conversation is None:  # deleted while the model was answering
            return
        conversation.messages.extend([user, assistant])
        conversation.usage = Usage(
            input_tokens=conversation.usage.input_tokens + usage.input_tokens,
            output_tokens=conversation.usage.output_tokens + usage.output_tokens,
        )

    @asynccontextmanager
    async def lock(self, conversation_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(conversation_id, asyncio.Lock())
        try:
            await asyncio.wait_for(lock.acquire(), self._lock_wait_s)
        except TimeoutError:
            raise ConversationBusyError(conversation_id) from None
        try:
            yield
        finally:
            lock.release()

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
        fields = {
            "id": conversation.id,
            "owner": conversation.owner,
            "system": conversation.system or "",  # Redis has no null: "" means none
            "model": conversation.model,
            "created_at": repr(conversation.created_at),
            "input_tokens": 0,
            "output_tokens": 0,
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key(conversation.id), mapping=fields)
            pipe.zadd(self._owner_key(conversation.owner), {conversation.id: conversation.created_at})
            await pipe.execute()

    async def get(self, conversation_id: str) -> Conversation | None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(self._key(conversation_id))
            pipe.lrange(self._messages_key(conversation_id), 0, -1)
            fields, raw_messages = await pipe.execute()
        if not fields:
            return None
        return Conversation(
            id=fields["id"],
            owner=fields["owner"],
            system=fields.get("system") or None,
            model=fields["model"],
            created_at=float(fields["created_at"]),
            messages=[Message.model_validate_json(m) for m in raw_messages],
            usage=Usage(
                input_tokens=int(fields.get("input_tokens", 0)),
                output_tokens=int(fields.get("output_tokens", 0)),
            ),
        )

    async def list_for(self, owner: str) -> list[ConversationSummary]:
        ids = await self._redis.zrevrange(self._owner_key(owner), 0, -1)
        if not ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for conversation_id in ids:
                pipe.hgetall(self._key(conversation_id))
                pipe.llen(self._messages_key(conversation_id))
            replies = await pipe.execute()
        summaries = []
        for fields, count in zip(replies[::2], replies[1::2], strict=True):
            if not fields or fields.get("owner") != owner:
                continue
            summaries.append(
                ConversationSummary(
                    id=fields["id"],
                    system=fields.get("system") or None,
                    model=fields["model"],
                    created_at=float(fields["created_at"]),
                    message_count=count,
                    usage=Usage(
                        input_tokens=int(fields.get("input_tokens", 0)),
                        output_tokens=int(fields.get("output_tokens", 0)),
                    ),
                )
            )
        return summaries

    async def delete(self, conversation_id: str) -> bool:
        owner = await self._redis.hget(self._key(conversation_id), "owner")
        if owner is None:
            return False
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(conversation_id), self._messages_key(conversation_id))
            pipe.zrem(self._owner_key(owner), conversation_id)
            await pipe.execute()
        return True

    async def append_turn(self, conversation_id: str, user: Message, assistant: Message, usage: Usage) -> None:
        key = self._key(conversation_id)
        if not await self._redis.exists(key):  # deleted while the model was answering
            return
        # One MULTI/EXEC: the pair and the totals are stored together or not at all.
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(self._messages_key(conversation_id), user.model_dump_json(), assistant.model_dump_json())
            pipe.hincrby(key, "input_tokens", usage.input_tokens)
            pipe.hincrby(key, "output_tokens", usage.output_tokens)
            await pipe.execute()

    @asynccontextmanager
    async def lock(self, conversation_id: str) -> AsyncIterator[None]:
        # A Redis lock: SET NX with an expiry, so it works across processes and expires by
        # itself if the process holding it dies; released only by its holder (the token).
        # Plain commands, no Lua script, so it also runs on fakeredis.
        key = f"{self._key(conversation_id)}:lock"
        token = secrets.token_hex(16)
        deadline = time.monotonic() + self._lock_wait_s
        while not await self._redis.set(key, token, nx=True, px=int(self._lock_timeout_s * 1000)):
            if time.monotonic() > deadline:
                raise ConversationBusyError(conversation_id)
            await asyncio.sleep(LOCK_POLL_S)
        try:
            yield
        finally:
            await self._release(key, token)

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
            lock_timeout_s=settings.longest_turn_s,
            lock_wait_s=settings.conversation_lock_wait_s,
        )
    return MemoryStore(lock_wait_s=settings.conversation_lock_wait_s)
