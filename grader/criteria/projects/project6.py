"""Project 6: Chat with Conversation History.

The app runs as ``uvicorn app.main:app`` with the providers pointed at the run's llmsim and
``REDIS_URL`` at the run's Redis. The checks chat with it over HTTP, as users named by
random ``X-User-ID`` headers (the CI Redis is shared: nothing here flushes it), and read
llmsim's journal: the exact messages sent with each call and the tokens counted for it.
llmsim's reply says how many messages it saw: ``(messages: N, system prompt: yes|no)``.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

from grader.checks import compose
from grader.checks.conversations import (
    CHAT_TIMEOUT_S,
    as_user,
    create,
    listed_ids,
    new_user,
    read,
    send,
    started,
    stored,
)
from grader.checks.files import StaticError
from grader.checks.http import FRESH, error_body_problem, json_or_none, nonce, short
from grader.checks.journal import describe, generations, sent_messages, sent_system
from grader.checks.models import DEFAULT_MODEL
from grader.checks.quizzes import check_quiz_file
from grader.criterion import check, criterion
from grader.runner import free_port
from llmsim.tokens import count_input

STORAGE = "Conversation storage (in-memory to start, then Redis)"
CREATE = "`/v1/conversations` - create new conversation"
MESSAGES = "`/v1/conversations/{id}/messages` - add message to conversation"
CONTEXT = "Full conversation context sent to LLM"
LISTING = "Conversation listing and deletion"
TOKENS = "Token counting for context management"
MULTI_TURN = "Multi-turn conversations maintain context"
COST = "Understands how conversation history affects tokens/cost"
MEMORY = "Can implement basic memory management"

# The budget the memory-management check runs the app with, and its tolerance for a
# tokenizer that counts a little differently from llmsim's.
BUDGET = 260
BUDGET_SLACK = 1.1
CONCURRENT = 8
SLOW_S = 0.25  # seconds llmsim waits before each reply in the concurrency check
BOUNDARY_SYSTEM = "keep this"  # tokenizers agree on it (see test_memory_budget)
LOCK_HOLD_S = 0.6  # seconds llmsim waits before the reply while the Redis lock is looked at

# sha256 of "<question id>:<answer>" (grader.quiz.answer_hash), not the answers.
QUIZ = {
    "history-resent": "58e4695bc3e1a17d3c5dfdfda0ea4ce9d8ef29e94124e35db77e83092c04006f",
    "cost-growth": "4c47bb1e5432e49d401924a35ddb6a7b1a1d49887be3ca4b3fc1fa24f4dde448",
    "budget-system-prompt": "9f7fd7d350eadeae46c28b6553fbdb5dc60a4ba6d1822d54c94a022ae23dfff4",
    "budget-whole-turns": "6bb763340df0dbef6819e5bc9c90abfc38993f5449c6789b7254b3d93f031550",
    "usage-source": "ffc1cdaa6ee15983512e0bfc293cf2999508429fe587120c3a798b9ad2f7543f",
}


# -- helpers ------------------------------------------------------------------------------------


def roles(messages: list[tuple[str, str]]) -> str:
    return ", ".join(role for role, _ in messages) or "none"


def last_generation(sim, after: int = 0) -> dict:
    entries = generations(sim)
    check(len(entries) > after, "the message was answered without any request reaching a provider")
    return entries[-1]


def chat_turns(app, sim, user: str, cid: str, contents: list[str]) -> list[tuple[dict, dict]]:
    """Send each message in turn; (response body, the provider request behind it) per turn."""
    out = []
    for n, content in enumerate(contents, start=1):
        sim.clear_requests()
        data = send(app, user, cid, content, turn=f"turn {n}")
        entries = [e for e in generations(sim) if e.get("outcome") == "ok"]
        check(entries, f"turn {n} was answered without any provider answering it")
        out.append((data, entries[-1]))
    return out


def about(value: object, expected: int) -> bool:
    """A token estimate close to llmsim's count: tokenizers differ a little between models."""
    return isinstance(value, int) and not isinstance(value, bool) and abs(value - expected) <= max(3, expected * 0.05)


def tokens_of(usage: object) -> tuple[object, object]:
    if not isinstance(usage, dict):
        return None, None
    return usage.get("input_tokens"), usage.get("output_tokens")


# -- components ---------------------------------------------------------------------------------

@criterion(
    "p6.storage-memory",
    STORAGE,
    hint="Implement MemoryStore (a dict of conversations and an asyncio.Lock per conversation) "
    "and make create_store() return it when STORE=memory, without touching Redis.",
)
def test_storage_memory(start_app, sim):
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    app = started(
        start_app, {"STORE": "memory", "REDIS_URL": dead}, "app-memory", "with STORE=memory (and no Redis reachable)"
    )
    user = new_user()
    cid = create(app, user, "STORE=memory")["id"]
    turns = chat_turns(app, sim, user, cid, [f"Remember {nonce()}", f"And this {nonce()}"])
    second, entry = turns[1]
    check(
        len(sent_messages(entry)) == 3,
        f"with STORE=memory the 2nd message's request carried {len(sent_messages(entry))} messages "
        f"({roles(sent_messages(entry))}); expected 3: the first turn and the new message",
    )
    data = read(app, user, cid, " with STORE=memory")
    check(
        len(data["messages"]) == 4,
        f"with STORE=memory, after 2 messages the conversation holds {len(data['messages'])} messages; expected 4",
    )


@criterion(
    "p6.storage-redis",
    STORAGE,
    hint="Implement RedisStore (a hash per conversation, a list of messages, a sorted set per "
    "owner) and use it by default when REDIS_URL is set: a restarted app reads it all back.",
)
def test_storage_redis(start_app, app, sim):
    # One app process writes and stops; another one, on the same REDIS_URL, reads it back:
    # what a restart (or a second replica) sees.
    user = new_user()
    first = started(start_app, {}, "app-before-restart", "with REDIS_URL set")
    cid = create(first, user, "REDIS_URL set")["id"]
    before = f"Before the restart {nonce()}"
    reply = send(first, user, cid, before)["content"]
    first.close()
    r = app.get(f"/v1/conversations/{cid}", headers=as_user(user), timeout=CHAT_TIMEOUT_S)
    check(
        r.status_code == 200,
        f"after an app restart, GET /v1/conversations/{{id}} answered {r.status_code}: conversations "
        "must live in Redis (REDIS_URL; STORE defaults to redis when it is set), not in the process",
    )
    data = json_or_none(r) or {}
    check(
        stored(data) == [("user", before), ("assistant", reply)],
        f"after an app restart the conversation holds {short(stored(data))}; expected the message sent "
        "before the restart and its reply",
    )
    check(cid in listed_ids(app, user), "after an app restart the conversation is missing from GET /v1/conversations")
    sim.clear_requests()
    send(app, user, cid, f"After the restart {nonce()}")
    entry = last_generation(sim)
    check(
        len(sent_messages(entry)) == 3,
        f"after an app restart, the next message's request carried {len(sent_messages(entry))} messages; "
        "expected 3 (the turn from before the restart, then the new message)",
    )


@criterion(
    "p6.concurrent",
    STORAGE,
    hint="Two messages to one conversation at once must both be stored with their replies: hold a "
    "per-conversation lock (asyncio.Lock in memory, a Redis lock in Redis) from reading the history "
    "until the user+assistant pair is appended (RPUSH), instead of read-modify-write of the whole history.",
)
def test_concurrent(app, sim):
    user = new_user()
    cid = create(app, user, "no system prompt")["id"]
    # Every reply takes a moment, so the requests overlap as they would under real load.
    sim.add_fault(provider="*", kind="slow", delay_s=SLOW_S)
    tag = nonce()
    contents = [f"Concurrent message {n} {tag}" for n in range(CONCURRENT)]

    def post(content: str):
        return app.post(
            f"/v1/conversations/{cid}/messages",
            json={"content": content},
            headers=as_user(user),
            timeout=CHAT_TIMEOUT_S * 2,
        )

    try:
        with ThreadPoolExecutor(CONCURRENT) as pool:
            responses = list(pool.map(post, contents))
    finally:
        sim.clear_faults()
    codes = sorted({r.status_code for r in responses})
    check(
        all(r.status_code == 200 for r in responses),
        f"{CONCURRENT} concurrent messages to one conversation answered {codes}; expected 200 for each",
    )
    messages = stored(read(app, user, cid, " after concurrent messages"))
    check(
        len(messages) == 2 * CONCURRENT,
        f"after {CONCURRENT} concurrent messages the conversation holds {len(messages)} messages; expected "
        f"{2 * CONCURRENT}: appends were lost (read-modify-write without a lock?)",
    )
    check(
        sorted(c for role, c in messages if role == "user") == sorted(contents),
        "after concurrent messages, the stored user messages are not the ones sent",
    )
    by_user_text = {}
    for entry in generations(sim):
        sent = sent_messages(entry)
        if entry.get("outcome") == "ok" and sent and sent[-1][0] == "user":
            by_user_text[sent[-1][1]] = (entry, sent)
    for n in range(0, len(messages), 2):
        (role, content), (next_role, reply) = messages[n], messages[n + 1]
        check(
            role == "user" and next_role == "assistant",
            f"after concurrent messages, stored messages {n + 1} and {n + 2} are {role}, {next_role}; each "
            "user message must be followed by its reply",
        )
        found = by_user_text.get(content)
        check(found is not None, f"no provider request ended with the stored user message {short(content, 60)!r}")
        check(
            found[0].get("reply") == reply,
            f"the reply stored after {short(content, 60)!r} is not the reply to it: each reply must be "
            "stored right after its own message",
        )
        unknown = [m for m in found[1][:-1] if m not in messages]
        check(
            not unknown,
            f"the reply to {short(content, 60)!r} was generated from a history with messages that are "
            "not stored in the conversation",
        )


@criterion(
    "p6.create",
    CREATE,
    hint="POST /v1/conversations takes {\"system\"?, \"model\"?} and the X-User-ID header, stores "
    "a new conversation with a fresh id and answers 201 with it (README.md, \"API\").",
)
def test_create(app):
    user = new_user()
    system = f"You are the grader's assistant {nonce()}."
    data = create(app, user, system=system)
    check(data.get("system") == system, f"the new conversation's system is {short(data.get('system'))!r}; the request sent {system!r}")
    check(data.get("model") == DEFAULT_MODEL, f"a conversation created without a model has model {data.get('model')!r}; expected {DEFAULT_MODEL!r}")
    check(data.get("messages") in ([], None), f"a new conversation already has messages: {short(data.get('messages'))}")
    other = create(app, user, "a model", model="gpt-4o-mini")
    check(other["id"] != data["id"], "two conversations got the same id")
    check(other.get("model") == "gpt-4o-mini", f"a conversation created with model 'gpt-4o-mini' has model {other.get('model')!r}")
    again = read(app, user, data["id"], " of a new conversation")
    check(
        again.get("system") == system and again.get("messages") == [],
        f"GET /v1/conversations/{{id}} of the new conversation answered {short(again)}; expected its system prompt and no messages",
    )
    check(data.get("owner") == user, f"the new conversation's owner is {short(data.get('owner'))!r}; expected the X-User-ID {user!r}")
    check(
        isinstance(data.get("created_at"), int | float) and not isinstance(data.get("created_at"), bool),
        f"the new conversation's created_at is {short(data.get('created_at'))!r}; expected a Unix time (a number)",
    )
    check(
        tokens_of(data.get("usage")) == (0, 0),
        f"a new conversation's usage is {short(data.get('usage'))}; expected {{\"input_tokens\": 0, \"output_tokens\": 0}}",
    )
    want = count_input([], system=system)
    check(
        about(data.get("context_tokens"), want),
        f"a new conversation with only a system prompt has context_tokens {short(data.get('context_tokens'))}; "
        f"litellm.token_counter counts about {want} for it",
    )
    for what, body in (
        ("{}", {}),
        ("system: null", {"system": None}),
        ("a system prompt of 4000 characters", {"system": "s" * 4000}),
    ):
        made = create(app, user, what, **body)
        check(
            made.get("system") == body.get("system") and made.get("model") == DEFAULT_MODEL,
            f"POST /v1/conversations with {what} answered system={short(made.get('system'), 40)!r}, "
            f"model={made.get('model')!r}; expected system={short(body.get('system'), 40)!r}, model={DEFAULT_MODEL!r}",
        )
    for what, body in (
        ("an unknown model", {"model": "no-such-model-" + nonce()}),
        ("system: 5", {"system": 5}),
        ('system: ""', {"system": ""}),
        ("a system prompt of 4001 characters", {"system": "s" * 4001}),
        ("an unknown field", {"systme": "typo"}),
    ):
        r = app.post("/v1/conversations", json=body, headers=as_user(user), timeout=CHAT_TIMEOUT_S)
        check(r.status_code == 422, f"POST /v1/conversations with {what} answered {r.status_code}; expected 422")
        problem = error_body_problem(r)
        check(problem is None, f"POST /v1/conversations with {what}: {problem}")
        if what == "an unknown model":
            kind = (json_or_none(r) or {}).get("error", {}).get("type")
            check(kind == "unknown_model", f"POST /v1/conversations with an unknown model answered error.type {kind!r}; expected 'unknown_model'")
    for what, headers in (
        ("without X-User-ID", FRESH),
        ("with an empty X-User-ID", {**FRESH, "X-User-ID": ""}),
        ("with an X-User-ID of 129 characters", as_user("u" * 129)),
        ("with an X-User-ID containing a space", as_user("grader user")),
        ("with an X-User-ID containing '/'", as_user("grader/user")),
    ):
        r = app.post("/v1/conversations", json={}, headers=headers, timeout=CHAT_TIMEOUT_S)
        check(
            r.status_code == 401,
            f"POST /v1/conversations {what} answered {r.status_code}; expected 401 (1 to 128 characters: letters, digits, . _ @ -)",
        )
        problem = error_body_problem(r)
        check(problem is None, f"POST /v1/conversations {what}: {problem}")
    longest = "u" * 116 + secrets.token_hex(6)
    for name in (longest, f"a.b_c@d-{nonce()}", secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789")):
        made = create(app, name, f"the X-User-ID {short(name, 40)!r} ({len(name)} characters)")
        check(made.get("owner") == name, f"a conversation created by X-User-ID {short(name, 40)!r} has owner {short(made.get('owner'), 40)!r}")
        app.delete(f"/v1/conversations/{made['id']}", headers=as_user(name), timeout=CHAT_TIMEOUT_S)  # the Redis is shared


@criterion(
    "p6.add-message",
    MESSAGES,
    hint="POST /v1/conversations/{id}/messages {\"content\"} sends the conversation to the model "
    "and stores the user message and the reply; 404 for an unknown id (without calling a provider).",
)
def test_add_message(app, sim):
    user = new_user()
    cid = create(app, user, "no system prompt")["id"]
    content = f"Hello from the grader {nonce()}"
    data, entry = chat_turns(app, sim, user, cid, [content])[0]
    check(
        data.get("content") == entry.get("reply"),
        f"the reply was {short(data.get('content'), 80)!r}; the provider replied {short(entry.get('reply'), 80)!r}",
    )
    calls = generations(sim)
    check(len(calls) == 1, f"one message made {len(calls)} provider requests; expected exactly 1")
    expected_fields = {
        "conversation_id": cid, "provider": "anthropic", "fallback": False,
        "context_messages": 1, "dropped_messages": 0,
    }
    for field, want in expected_fields.items():
        check(
            data.get(field) == want,
            f"the reply to the first message of a {DEFAULT_MODEL} conversation has {field}={short(data.get(field), 60)!r}; expected {want!r}",
        )
    check(isinstance(data.get("model"), str) and data.get("model"), f"the reply has model {short(data.get('model'))!r}; expected the model that answered")
    usage = (entry.get("input_tokens"), entry.get("output_tokens"))
    check(
        tokens_of(data.get("conversation_usage")) == usage,
        f"after the first message, conversation_usage is {short(data.get('conversation_usage'))}; the provider counted "
        f"input_tokens={usage[0]}, output_tokens={usage[1]}",
    )
    check(
        entry.get("max_tokens") == 512,
        f"the provider request carried max_tokens={entry.get('max_tokens')!r}; expected REPLY_MAX_TOKENS (default 512)",
    )
    check(
        stored(read(app, user, cid, " after a message")) == [("user", content), ("assistant", entry.get("reply"))],
        "after one message, GET /v1/conversations/{id} does not show the user message followed by the reply",
    )
    longest = ("8000 characters " + nonce() + " ").ljust(8000, "x")
    data, entry = chat_turns(app, sim, user, create(app, user, "no system prompt")["id"], [longest])[0]
    check(
        sent_messages(entry) == [("user", longest)],
        "a message of exactly 8000 characters did not reach the provider unchanged",
    )
    other = new_user()
    for what, cid_, body, headers in (
        ("an unknown conversation id", "no-such-" + nonce(), {"content": "hi"}, as_user(user)),
        ("another user's conversation id", cid, {"content": "hi"}, as_user(other)),
        ("an empty content", cid, {"content": ""}, as_user(user)),
        ("a content of 8001 characters", cid, {"content": "x" * 8001}, as_user(user)),
        ("an unknown field", cid, {"content": "hi", "role": "system"}, as_user(user)),
        ("no X-User-ID", cid, {"content": "hi"}, FRESH),
    ):
        sim.clear_requests()
        r = app.post(f"/v1/conversations/{cid_}/messages", json=body, headers=headers, timeout=CHAT_TIMEOUT_S)
        want = 404 if "conversation id" in what else 401 if "X-User-ID" in what else 422
        check(r.status_code == want, f"POST /v1/conversations/{{id}}/messages with {what} answered {r.status_code}; expected {want}")
        problem = error_body_problem(r)
        check(problem is None, f"POST /v1/conversations/{{id}}/messages with {what}: {problem}")
        check(not generations(sim), f"POST /v1/conversations/{{id}}/messages with {what} still called a provider")
    check(
        len(read(app, user, cid, " after rejected messages")["messages"]) == 2,
        "after rejected messages (another user's, too long, unknown field), the conversation no longer holds exactly its 2 messages",
    )


@criterion(
    "p6.full-context",
    CONTEXT,
    hint="Send the model the system prompt, every stored message in order, then the new user "
    "message (app/history.py build_context), with the conversation's model.",
)
def test_full_context(app, sim):
    user = new_user()
    for model, provider in ((DEFAULT_MODEL, "anthropic"), ("gpt-4o-mini", "openai")):
        full_context(app, sim, user, model, provider)


def full_context(app, sim, user: str, model: str, provider: str) -> None:
    system = f"You are the grader's assistant {nonce()}."
    cid = create(app, user, system=system, model=model)["id"]
    contents = [f"Turn {n} of the grader {nonce()}" for n in (1, 2, 3)]
    expected: list[tuple[str, str]] = []
    for n, (data, entry) in enumerate(chat_turns(app, sim, user, cid, contents), start=1):
        calls = generations(sim)
        check(
            len(calls) == 1 and entry.get("provider") == provider,
            f"message {n} of a {model} conversation made {len(calls)} provider request(s) "
            f"({', '.join(describe(e) for e in calls)}); expected exactly 1, to {provider}",
        )
        check(
            str(entry.get("model") or "").endswith(model),
            f"message {n} of a {model} conversation was sent to model {entry.get('model')!r}: use the conversation's model",
        )
        raw = [m for m in entry.get("messages") or [] if isinstance(m, dict)]
        positions = [i for i, m in enumerate(raw) if m.get("role") in ("system", "developer")]
        if provider == "openai":
            check(
                positions == [0],
                f"message {n} of a {model} conversation sent the system prompt at position(s) {positions} of "
                f"{len(raw)} messages; expected exactly one system message, first",
            )
        check(
            entry.get("max_tokens") == 512,
            f"message {n}'s request carried max_tokens={entry.get('max_tokens')!r}; expected REPLY_MAX_TOKENS (default 512)",
        )
        check(
            data.get("context_messages") == 2 * n - 1,
            f"the reply to message {n} says context_messages={short(data.get('context_messages'))}; the model was sent "
            f"{2 * n - 1} messages besides the system prompt",
        )
        expected.append(("user", contents[n - 1]))
        sent = sent_messages(entry)
        check(
            sent == expected,
            f"message {n}'s request carried {len(sent)} messages ({roles(sent)}); expected the "
            f"{len(expected)} messages of the conversation so far, in order, ending with the new one",
        )
        check(
            system in sent_system(entry),
            f"message {n}'s request carried no system prompt; the conversation has one: send it with every call",
        )
        expected.append(("assistant", entry.get("reply")))


@criterion(
    "p6.list-delete",
    LISTING,
    hint="GET /v1/conversations lists only the caller's (X-User-ID) conversations; DELETE removes "
    "the conversation and its messages (204), after which GET answers 404 and the listing omits it.",
)
def test_list_delete(app, sim):
    alice, bob = new_user(), new_user()
    a1 = create(app, alice, "no system prompt")["id"]
    a2 = create(app, alice, "no system prompt")["id"]
    b1 = create(app, bob, "no system prompt")["id"]
    send(app, alice, a1, f"Something to delete {nonce()}")
    a3 = create(app, alice, "no system prompt")["id"]
    mine = listed_ids(app, alice)
    check({a1, a2, a3} <= set(mine), f"GET /v1/conversations as the user who created 3 conversations lists {short(mine)}")
    check(b1 not in mine, "GET /v1/conversations lists another user's conversation: list only the caller's (X-User-ID)")
    check(
        [i for i in mine if i in (a1, a2, a3)] == [a3, a2, a1],
        "GET /v1/conversations does not list the caller's 3 conversations newest first",
    )
    check(listed_ids(app, bob) == [b1], "GET /v1/conversations as a second user does not list exactly that user's one conversation")
    r = app.get("/v1/conversations", headers=as_user(alice), timeout=CHAT_TIMEOUT_S)
    items = {i.get("id"): i for i in (json_or_none(r) or {}).get("data") or [] if isinstance(i, dict)}
    first = read(app, alice, a1, " after one message")
    check((json_or_none(r) or {}).get("object") == "list", f"GET /v1/conversations answered {short(r.text)}; expected \"object\": \"list\"")
    for field, want in (("message_count", 2), ("usage", first.get("usage")), ("model", first.get("model")), ("created_at", first.get("created_at"))):
        check(
            items.get(a1, {}).get(field) == want,
            f"GET /v1/conversations lists a conversation with one turn with {field}={short(items.get(a1, {}).get(field), 80)!r}; expected {short(want, 80)!r}",
        )
    check(
        "system" in items.get(a1, {}) and items[a1]["system"] is None and items.get(a2, {}).get("message_count") == 0,
        f"GET /v1/conversations lists {short(items.get(a2))} for a new conversation without a system prompt; "
        "expected system null and message_count 0",
    )
    unknown = app.get(f"/v1/conversations/no-such-{nonce()}", headers=as_user(alice), timeout=CHAT_TIMEOUT_S)
    check(unknown.status_code == 404, f"GET /v1/conversations/{{id}} of an unknown id answered {unknown.status_code}; expected 404")
    sim.clear_requests()
    for method in ("GET", "DELETE"):
        r = app.request(method, f"/v1/conversations/{a2}", headers=as_user(bob), timeout=CHAT_TIMEOUT_S)
        check(
            r.status_code == 404,
            f"{method} /v1/conversations/{{id}} of another user's conversation answered {r.status_code}; expected 404, "
            "exactly as for an id that does not exist",
        )
        problem = error_body_problem(r)
        check(problem is None, f"{method} of another user's conversation: {problem}")
        theirs, missing = (json_or_none(r) or {}).get("error", {}), (json_or_none(unknown) or {}).get("error", {})
        check(
            theirs.get("type") == missing.get("type"),
            f"{method} of another user's conversation answered error.type {theirs.get('type')!r}, an unknown id "
            f"{missing.get('type')!r}: the two must look the same, so ids cannot be probed",
        )
    r = app.get("/v1/conversations", headers=FRESH, timeout=CHAT_TIMEOUT_S)
    check(r.status_code == 401, f"GET /v1/conversations without X-User-ID answered {r.status_code}; expected 401")
    check(
        stored(read(app, alice, a1, " after another user tried to delete it")) == stored(first)
        and a2 in listed_ids(app, alice),
        "after another user's DELETE (answered 404), the owner's conversation changed or is gone",
    )
    r = app.delete(f"/v1/conversations/{a1}", headers=as_user(alice), timeout=CHAT_TIMEOUT_S)
    check(r.status_code == 204, f"DELETE /v1/conversations/{{id}} answered {r.status_code}; expected 204")
    check(not r.content, f"DELETE /v1/conversations/{{id}} answered 204 with a body {short(r.text, 80)!r}; expected none")
    r = app.get(f"/v1/conversations/{a1}", headers=as_user(alice), timeout=CHAT_TIMEOUT_S)
    check(r.status_code == 404, f"after DELETE, GET /v1/conversations/{{id}} answered {r.status_code}; expected 404 (the data must be gone)")
    problem = error_body_problem(r)
    check(problem is None, f"GET of a deleted conversation: {problem}")
    mine = listed_ids(app, alice)
    check(a1 not in mine, "after DELETE, GET /v1/conversations still lists the deleted conversation")
    check(a2 in mine, "after deleting one conversation, GET /v1/conversations no longer lists the other one")
    sim.clear_requests()
    r = app.post(f"/v1/conversations/{a1}/messages", json={"content": "hi"}, headers=as_user(alice), timeout=CHAT_TIMEOUT_S)
    check(r.status_code == 404, f"a message to a deleted conversation answered {r.status_code}; expected 404")
    r = app.delete(f"/v1/conversations/{a1}", headers=as_user(alice), timeout=CHAT_TIMEOUT_S)
    check(r.status_code == 404, f"a second DELETE of the same conversation answered {r.status_code}; expected 404")


@criterion(
    "p6.tokens",
    TOKENS,
    hint="Take each call's tokens from the provider's usage (prompt_tokens, completion_tokens), "
    "return them as usage {input_tokens, output_tokens}, and keep the conversation's totals (HINCRBY).",
)
def test_tokens(app, sim):
    user = new_user()
    system = f"Count with care {nonce()}."
    cid = create(app, user, "a system prompt", system=system)["id"]
    total_in = total_out = 0
    calls: list[tuple[int, int]] = []
    previous = (0, 0)
    for n, content in enumerate([f"Count me {nonce()}", f"And count me too {nonce()}"], start=1):
        data, entry = chat_turns(app, sim, user, cid, [content])[0]
        got = tokens_of(data.get("usage"))
        want = (entry.get("input_tokens"), entry.get("output_tokens"))
        check(
            got == want,
            f"message {n}'s usage is {short(data.get('usage'))}; the provider counted input_tokens={want[0]}, output_tokens={want[1]}",
        )
        total_in += want[0]
        total_out += want[1]
        totals = tokens_of(read(app, user, cid, f" after message {n}").get("usage"))
        check(
            totals == (total_in, total_out),
            f"after {n} message(s) the conversation's usage is {totals}; the provider counted "
            f"input_tokens={total_in}, output_tokens={total_out} in total",
        )
        check(totals > previous, "the conversation's token counts did not grow with a new message")
        previous = totals
        check(
            tokens_of(data.get("conversation_usage")) == (total_in, total_out),
            f"message {n}'s conversation_usage is {short(data.get('conversation_usage'))}; expected the totals "
            f"input_tokens={total_in}, output_tokens={total_out}, this call included",
        )
        calls.append(want)
    conversation = read(app, user, cid, " after 2 messages")
    messages = [m for m in conversation["messages"] if isinstance(m, dict)]
    check(len(messages) == 4, f"after 2 messages the conversation holds {len(messages)} messages; expected 4")
    for n, m in enumerate(messages, start=1):
        created = m.get("created_at")
        check(
            isinstance(created, int | float) and not isinstance(created, bool),
            f"stored message {n} has created_at {short(created)!r}; expected a Unix time (a number)",
        )
        if m.get("role") == "user":
            check(
                m.get("usage") is None and m.get("context_messages") is None,
                f"stored user message {n} has usage={short(m.get('usage'))} context_messages={m.get('context_messages')!r}; "
                "those are on assistant messages only",
            )
        else:
            check(
                tokens_of(m.get("usage")) == calls[n // 2 - 1],
                f"stored assistant message {n} has usage {short(m.get('usage'))}; the provider counted "
                f"input_tokens={calls[n // 2 - 1][0]}, output_tokens={calls[n // 2 - 1][1]} for it",
            )
            check(
                m.get("context_messages") == n - 1,
                f"stored assistant message {n} has context_messages={m.get('context_messages')!r}; its call was sent {n - 1} messages",
            )
    want = count_input([{"role": m.get("role"), "content": m.get("content")} for m in messages], system=system)
    check(
        about(conversation.get("context_tokens"), want),
        f"after 2 messages context_tokens is {short(conversation.get('context_tokens'))}; litellm.token_counter counts "
        f"about {want} for the system prompt and the 4 stored messages",
    )


# -- learning validation ------------------------------------------------------------------------

@criterion(
    "p6.multi-turn",
    MULTI_TURN,
    hint="Each reply must come from the whole conversation: on the 3rd message the model sees 5 "
    "messages (2 earlier turns + the new one), and GET shows all 6, in order.",
)
def test_multi_turn(app, sim):
    user = new_user()
    cid = create(app, user, "no system prompt")["id"]
    contents = [f"My name is Ada {nonce()}", f"I like tea {nonce()}", f"What do you know about me? {nonce()}"]
    turns = chat_turns(app, sim, user, cid, contents)
    for n, (data, _) in enumerate(turns, start=1):
        seen = re.search(r"messages: (\d+)", data.get("content", ""))
        check(
            f"(messages: {2 * n - 1}," in data.get("content", ""),
            f"the reply to message {n} says the model saw {seen[1] if seen else '?'} messages; expected "
            f"{2 * n - 1} (every earlier message and the new one): {short(data.get('content'), 100)!r}",
        )
    expected = []
    for content, (data, _) in zip(contents, turns, strict=True):
        expected += [("user", content), ("assistant", data.get("content"))]
    check(
        stored(read(app, user, cid, " after 3 messages")) == expected,
        "after 3 messages, GET /v1/conversations/{id} does not show the 6 messages (user, reply, ...) in order",
    )


@criterion(
    "p6.history-cost",
    COST,
    hint="Answer every question in quiz.yaml (replace `answer: null` with a letter), and send the "
    "history with every call: each call's input tokens then grow with the conversation.",
)
def test_history_cost(project, app, sim):
    check_quiz_file(project, QUIZ)
    user = new_user()
    cid = create(app, user, "no system prompt")["id"]
    tag = nonce()
    turns = chat_turns(app, sim, user, cid, [f"Same length {n} {tag}" for n in (1, 2, 3)])
    counted = [entry.get("input_tokens") or 0 for _, entry in turns]
    check(
        counted[0] < counted[1] < counted[2],
        f"three messages of the same length cost {counted} input tokens: with the history sent each "
        "time, every call's input should grow",
    )


@criterion(
    "p6.memory-budget",
    MEMORY,
    hint="In build_context: keep the system prompt and the new message; while over "
    "HISTORY_TOKEN_BUDGET (litellm.token_counter), drop the oldest user+assistant pair.",
)
def test_memory_budget(start_app, sim):
    app = started(start_app, {"HISTORY_TOKEN_BUDGET": str(BUDGET)}, "app-budget", f"with HISTORY_TOKEN_BUDGET={BUDGET}")
    user = new_user()
    system = f"You are the grader's assistant {nonce()}; keep this instruction."
    cid = create(app, user, system=system)["id"]
    filler = "the quick brown fox jumps over the lazy dog " * 2
    history: list[tuple[str, str]] = []
    dropped_seen = False
    for n in range(1, 8):
        content = f"Turn {n} {nonce()}: {filler.strip()}"
        if n == 7:  # system prompt + this message alone are over the budget: sent alone
            content = f"Turn {n} {nonce()}: " + "every word counts " * (BUDGET // 3 + 10)
        full = [*history, ("user", content)]
        data, entry = chat_turns(app, sim, user, cid, [content])[0]
        sent = sent_messages(entry)
        check(
            system in sent_system(entry),
            f"turn {n} (budget {BUDGET} tokens) was sent without the system prompt: always keep it",
        )
        check(sent and sent[-1] == ("user", content), f"turn {n} did not send the new user message last")
        check(
            sent == full[len(full) - len(sent):] and len(sent) % 2 == 1,
            f"turn {n} sent {roles(sent)}; expected the newest messages of the conversation, after dropping "
            "whole user+assistant pairs from the oldest",
        )
        check(
            data.get("context_messages") == len(sent) and data.get("dropped_messages") == len(full) - len(sent),
            f"turn {n} answered context_messages={short(data.get('context_messages'))}, dropped_messages="
            f"{short(data.get('dropped_messages'))}; the model was sent {len(sent)} of the {len(full)} messages",
        )
        full_tokens = count_input([{"role": r, "content": c} for r, c in full], system=system)
        if n == 7:
            check(
                len(sent) == 1,
                f"turn {n}: the system prompt and the new message alone count {full_tokens} tokens, over the budget of "
                f"{BUDGET}; expected them sent alone, but {len(sent)} messages were sent",
            )
        elif full_tokens <= BUDGET:
            check(
                len(sent) == len(full),
                f"turn {n}: the whole conversation ({full_tokens} tokens) fits the budget of {BUDGET}, "
                f"but only {len(sent)} of its {len(full)} messages were sent",
            )
        else:
            dropped_seen = True
            check(
                (entry.get("input_tokens") or 0) <= BUDGET * BUDGET_SLACK or len(sent) == 1,
                f"turn {n}: the history was {full_tokens} tokens, over the budget of {BUDGET}, and the "
                f"request still had {entry.get('input_tokens')}: drop the oldest turns",
            )
            kept = full[max(0, len(full) - len(sent) - 2):]
            check(
                len(sent) == len(full)
                or count_input([{"role": r, "content": c} for r, c in kept], system=system) > BUDGET / BUDGET_SLACK,
                f"turn {n}: only {len(sent)} messages were sent, though more would fit the budget of {BUDGET}: "
                "drop only as many old turns as needed",
            )
        history = [*full, ("assistant", entry.get("reply"))]
    check(dropped_seen, "the conversation never went over the budget (grader problem: make the turns longer)")
    check(
        stored(read(app, user, cid, " after turns were left out")) == history,
        f"after turns were left out for the budget, GET shows {len(stored(read(app, user, cid)))} messages; "
        f"expected all {len(history)}: left-out turns stay stored",
    )
    # The boundary: at exactly the budget everything is sent; over it, the oldest turn goes. These
    # texts count the same with every tokenizer litellm.token_counter picks for the model (a bare
    # "claude-haiku-4-5" counts llmsim's reply one token less), so "over" is 2 tokens over.
    for over in (0, 2):
        cid = create(app, user, system=BOUNDARY_SYSTEM, model="gpt-4o-mini")["id"]
        _, entry = chat_turns(app, sim, user, cid, ["hello"])[0]
        turn = [("user", "hello"), ("assistant", entry.get("reply"))]
        content = padded(BOUNDARY_SYSTEM, turn, "at the budget:", BUDGET + over)
        check(content is not None, f"grader problem: no message makes exactly {BUDGET + over} tokens")
        data, entry = chat_turns(app, sim, user, cid, [content])[0]
        sent = sent_messages(entry)
        want = 1 if over else 3
        check(
            len(sent) == want and data.get("dropped_messages") == 3 - want,
            f"with system prompt + history + new message at {BUDGET + over} tokens (budget {BUDGET}), {len(sent)} "
            f"messages were sent (dropped_messages={short(data.get('dropped_messages'))}); expected {want}: "
            "leave out the oldest turn only while the count is MORE than the budget",
        )


def padded(system: str, history: list[tuple[str, str]], base: str, target: int) -> str | None:
    """A new message that makes system + history + it count exactly ``target`` tokens."""
    for k in range(4 * target):
        content = base + " x" * k
        got = count_input([{"role": r, "content": c} for r, c in [*history, ("user", content)]], system=system)
        if got == target:
            return content
        if got > target:
            return None
    return None


@criterion(
    "p6.provider-failure",
    MESSAGES,
    hint="Provider errors answer as in Project 3 (every model rate limited: 429 with Retry-After; every "
    "model failing: 502) and store nothing: append the user message and the reply together, only after the "
    "call succeeded. A fallback model is sent the same history.",
)
def test_provider_failure(app, sim):
    user = new_user()
    cid = create(app, user, "a system prompt", system=f"You are the grader's assistant {nonce()}.")["id"]
    chat_turns(app, sim, user, cid, [f"Before the failures {nonce()}"])
    before = read(app, user, cid, " after one message")
    # "as in Project 3": a 429 everywhere is a 429; 500, 503 and 529 everywhere are a 502
    for status, want in ((429, 429), (500, 502), (503, 502), (529, 502)):
        content = f"Sent while every provider answers {status} {nonce()}"
        sim.clear_requests()
        sim.add_fault(provider="*", kind="http", status=status)
        try:
            r = app.post(
                f"/v1/conversations/{cid}/messages", json={"content": content}, headers=as_user(user), timeout=CHAT_TIMEOUT_S
            )
        finally:
            sim.clear_faults()
        check(generations(sim), f"with every provider answering {status}, the message reached no provider")
        check(
            r.status_code == want,
            f"with every provider answering {status}, POST /v1/conversations/{{id}}/messages answered {r.status_code}; expected {want}",
        )
        problem = error_body_problem(r)
        check(problem is None, f"with every provider answering {status}: {problem}")
        if want == 429:
            check(r.headers.get("retry-after"), "the 429 (every provider rate limited) has no Retry-After header")
        after = read(app, user, cid, f" after a failed message ({status})")
        check(
            stored(after) == stored(before),
            f"after a message that failed ({want}), the conversation holds {len(stored(after))} messages; expected "
            f"the {len(stored(before))} it had: nothing is stored when the call fails",
        )
        check(
            tokens_of(after.get("usage")) == tokens_of(before.get("usage")),
            f"after a message that failed ({want}), the conversation's usage changed from {short(before.get('usage'))} "
            f"to {short(after.get('usage'))}",
        )
    content = f"Answered by the fallback {nonce()}"
    sim.clear_requests()
    sim.add_fault(provider="anthropic", kind="http", status=500, times=1)
    try:
        data = send(app, user, cid, content, turn=f"{DEFAULT_MODEL} failing once")
    finally:
        sim.clear_faults()
    calls = generations(sim)
    order = [(e.get("provider"), e.get("outcome")) for e in calls]
    check(
        len(calls) == 2 and calls[0].get("provider") == "anthropic" and calls[1].get("outcome") == "ok"
        and calls[1].get("provider") != "anthropic",
        f"with {DEFAULT_MODEL} failing once, the provider requests were {', '.join(describe(e) for e in calls) or 'none'}; "
        "expected 2: the conversation's model, then its fallback",
    )
    check(
        data.get("fallback") is True and data.get("provider") == calls[1].get("provider"),
        f"a reply from the fallback says provider={data.get('provider')!r}, fallback={data.get('fallback')!r}; "
        f"expected provider={calls[1].get('provider')!r}, fallback=true ({order})",
    )
    expected = [*stored(before), ("user", content)]
    for e in calls:
        check(
            sent_messages(e) == expected,
            f"the request to {e.get('provider')} carried {roles(sent_messages(e))}; expected the {len(expected)} "
            "messages of the conversation, without the failed ones (the fallback gets the same history)",
        )
    check(
        stored(read(app, user, cid, " after a fallback")) == [*expected, ("assistant", data.get("content"))],
        "after a reply from the fallback, the conversation does not hold the earlier messages, the new one and its reply",
    )


@criterion(
    "p6.redis-layout",
    STORAGE,
    hint="README \"Redis layout\": every key starts with REDIS_KEY_PREFIX; {prefix}conversation:{id} is a "
    "hash (id, owner, system or \"\", model, created_at, input_tokens, output_tokens), {prefix}conversation:"
    "{id}:messages a list of JSON messages (RPUSH), {prefix}user:{owner}:conversations a sorted set scored by "
    "created_at, {prefix}conversation:{id}:lock a SET NX lock with an expiry; DELETE removes all of them.",
)
def test_redis_layout(start_app, sim, redis_url):
    import redis

    prefix = f"grader{nonce()}:"
    app = started(start_app, {"REDIS_KEY_PREFIX": prefix}, "app-prefix", f"with REDIS_KEY_PREFIX={prefix}")
    db = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        redis_layout(app, sim, db, prefix)
    finally:
        db.close()


def redis_layout(app, sim, db, prefix: str) -> None:
    user = new_user()
    system = f"You are the grader's assistant {nonce()}."
    made = create(app, user, system=system, model="gpt-4o-mini")
    cid = made["id"]
    head, messages_key = f"{prefix}conversation:{cid}", f"{prefix}conversation:{cid}:messages"
    lock_key, owner_key = f"{prefix}conversation:{cid}:lock", f"{prefix}user:{user}:conversations"
    check(
        db.type(head) == "hash",
        f"with REDIS_KEY_PREFIX={prefix} a new conversation's key {head} is {db.type(head)!r}; expected a hash",
    )
    fields = db.hgetall(head)
    want = {"id": cid, "owner": user, "system": system, "model": "gpt-4o-mini", "input_tokens": "0", "output_tokens": "0"}
    # The totals may also appear with the first HINCRBY.
    wrong = {k: fields.get(k) for k, v in want.items() if fields.get(k) != v and not (v == "0" and k not in fields)}
    check(not wrong, f"the hash {head} has {short(wrong, 200)}; expected {short({k: want[k] for k in wrong}, 200)}")
    check(
        close_to(fields.get("created_at"), made.get("created_at")),
        f"the hash {head} has created_at {fields.get('created_at')!r}; the API answered {made.get('created_at')!r}",
    )
    check(
        db.type(owner_key) == "zset" and close_to(db.zscore(owner_key, cid), made.get("created_at")),
        f"{owner_key} is {db.type(owner_key)!r} with score {db.zscore(owner_key, cid) if db.type(owner_key) == 'zset' else None!r} "
        f"for the new conversation; expected a sorted set scoring it by created_at ({made.get('created_at')!r})",
    )
    # A slow reply: the conversation's lock must be in Redis, with an expiry, while it is answered.
    sim.clear_requests()
    sim.add_fault(provider="*", kind="slow", delay_s=LOCK_HOLD_S)
    content = f"Store me in Redis {nonce()}"
    try:
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(send, app, user, cid, content)
            seen_ttl = None
            deadline = time.monotonic() + LOCK_HOLD_S + CHAT_TIMEOUT_S
            while not future.done() and time.monotonic() < deadline:
                ttl = db.pttl(lock_key)
                if ttl != -2:  # -2: no such key
                    seen_ttl = ttl
                    break
                time.sleep(0.02)
            data = future.result()
    finally:
        sim.clear_faults()
    check(
        seen_ttl is not None,
        f"while a message was being answered ({LOCK_HOLD_S} s), there was no key {lock_key}: hold the "
        "conversation's lock in Redis (SET NX with an expiry) so it works across app processes",
    )
    check(seen_ttl > 0, f"the lock {lock_key} has no expiry (PTTL {seen_ttl}): SET it with PX/EX, so a crash cannot keep it forever")
    check(db.exists(lock_key) == 0, f"after the reply, the lock {lock_key} is still there: release it")
    entry = last_generation(sim)
    fields = db.hgetall(head)
    counted = (str(entry.get("input_tokens")), str(entry.get("output_tokens")))
    check(
        (fields.get("input_tokens"), fields.get("output_tokens")) == counted,
        f"after one message the hash {head} has input_tokens={fields.get('input_tokens')!r}, output_tokens="
        f"{fields.get('output_tokens')!r}; the provider counted {counted[0]} and {counted[1]} (HINCRBY)",
    )
    check(db.type(messages_key) == "list", f"after one message {messages_key} is {db.type(messages_key)!r}; expected a list")
    raw = db.lrange(messages_key, 0, -1)
    decoded = []
    for item in raw:
        try:
            decoded.append(json.loads(item))
        except ValueError:
            check(False, f"{messages_key} holds {short(item, 80)!r}; expected one JSON message per entry")
    got = [(m.get("role"), m.get("content")) if isinstance(m, dict) else m for m in decoded]
    check(
        got == [("user", content), ("assistant", data.get("content"))],
        f"after one message {messages_key} holds {short(got, 200)}; expected the user message, then the reply (RPUSH)",
    )
    bare = create(app, user, "no system prompt")["id"]
    system_field = db.hget(f"{prefix}conversation:{bare}", "system")
    check(system_field == "", f"a conversation without a system prompt has system {system_field!r} in its hash; expected \"\"")
    for pattern in (f"*{cid}*", f"*{user}*"):
        stray = sorted(k for k in db.scan_iter(match=pattern, count=1000) if not k.startswith(prefix))
        check(not stray, f"with REDIS_KEY_PREFIX={prefix} the app wrote {short(stray, 200)}: every key must start with the prefix")
    for gone in (cid, bare):
        r = app.delete(f"/v1/conversations/{gone}", headers=as_user(user), timeout=CHAT_TIMEOUT_S)
        check(r.status_code == 204, f"DELETE /v1/conversations/{{id}} answered {r.status_code}; expected 204")
    left = [k for k in (head, messages_key, lock_key) if db.exists(k)]
    check(not left, f"after DELETE, {', '.join(left)} still exist(s) in Redis: delete the hash and the list")
    members = db.zrange(owner_key, 0, -1) if db.type(owner_key) == "zset" else []
    check(
        cid not in members and bare not in members,
        f"after DELETE, {owner_key} still holds the deleted conversation ids: remove them from the sorted set",
    )


def close_to(value: object, expected: object) -> bool:
    try:
        return abs(float(value) - float(expected)) < 0.001
    except (TypeError, ValueError):
        return False


@criterion(
    "p6.compose",
    STORAGE,
    hint="docker-compose.yml: the API (build: ., env_file: .env, REDIS_URL=redis://redis:6379/0, port "
    "8000, depends_on redis with condition: service_healthy) and a redis service from the official image "
    "with a redis-cli ping health check and a volume for /data.",
)
def test_compose(project):
    try:
        name, data = compose.load_compose(project.root)
    except StaticError as exc:
        check(False, str(exc))
    services = {k: v for k, v in data["services"].items() if isinstance(v, dict)}
    apps = {k: v for k, v in services.items() if compose.built_here(v)}
    check(apps, f"no service in {name} is built from this folder (build: .)")
    redis = {k for k, v in services.items() if str(v.get("image", "")).split("/")[-1].startswith(("redis", "valkey"))}
    check(redis, f"{name} has no Redis service (image: redis:7-alpine, say)")
    for svc_name, svc in apps.items():
        url = compose.environment(svc).get("REDIS_URL") or ""
        check(
            any(re.match(rf"rediss?://([^@/]*@)?{re.escape(r)}(:\d+)?(/|$)", url) for r in redis),
            f"service {svc_name!r} in {name} does not get REDIS_URL pointing at the Redis service "
            f"(e.g. REDIS_URL: redis://{sorted(redis)[0]}:6379/0); it has {url or 'none'}",
        )
        depends = svc.get("depends_on") or []
        check(
            redis & set(depends if isinstance(depends, list | dict) else []),
            f"service {svc_name!r} in {name} does not depend on the Redis service (depends_on)",
        )
        healthy = isinstance(depends, dict) and any(
            isinstance(depends.get(r), dict) and depends[r].get("condition") == "service_healthy" for r in redis
        )
        check(
            healthy,
            f"service {svc_name!r} in {name} does not wait for Redis to be healthy "
            f"(depends_on: {sorted(redis)[0]}: condition: service_healthy)",
        )
        check(
            any(f.removeprefix("./") == ".env" for f in compose.env_files(svc)),
            f"service {svc_name!r} in {name} does not read its keys from .env (env_file: .env)",
        )
        check(
            any(container == 8000 for _, container in compose.port_mappings(svc)),
            f"service {svc_name!r} in {name} does not publish port 8000 (ports: [\"8000:8000\"])",
        )
    for r in redis:
        health = services[r].get("healthcheck")
        test = health.get("test") if isinstance(health, dict) else None
        words = " ".join(test) if isinstance(test, list) else str(test or "")
        check(
            "redis-cli" in words and "ping" in words,
            f"the Redis service {r!r} in {name} has no healthcheck running redis-cli ping; it has {short(test) if test else 'none'}",
        )
        check(
            services[r].get("volumes"),
            f"the Redis service {r!r} in {name} has no volume for its data (volumes: [redis-data:/data])",
        )
