"""Project 6: Chat with Conversation History.

The app runs as ``uvicorn app.main:app`` with the providers pointed at the run's llmsim and
``REDIS_URL`` at the run's Redis. The checks chat with it over HTTP, as users named by
random ``X-User-ID`` headers (the CI Redis is shared: nothing here flushes it), and read
llmsim's journal: the exact messages sent with each call and the tokens counted for it.
llmsim's reply says how many messages it saw: ``(messages: N, system prompt: yes|no)``.
"""

from __future__ import annotations

import re
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
from grader.checks.journal import generations, sent_messages, sent_system
from grader.checks.models import DEFAULT_MODEL
from grader.checks.quizzes import check_quiz_file
from grader.criterion import check, criterion
from grader.runner import free_port

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
    for what, body in (("an unknown model", {"model": "no-such-model-" + nonce()}), ("system: 5", {"system": 5})):
        r = app.post("/v1/conversations", json=body, headers=as_user(user), timeout=CHAT_TIMEOUT_S)
        check(r.status_code in (400, 404, 422), f"POST /v1/conversations with {what} answered {r.status_code}; expected 422")
        problem = error_body_problem(r)
        check(problem is None, f"POST /v1/conversations with {what}: {problem}")
    r = app.post("/v1/conversations", json={}, headers=FRESH, timeout=CHAT_TIMEOUT_S)
    check(
        400 <= r.status_code < 500,
        f"POST /v1/conversations without X-User-ID answered {r.status_code}; every conversation needs an owner (401)",
    )


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
    check(
        stored(read(app, user, cid, " after a message")) == [("user", content), ("assistant", entry.get("reply"))],
        "after one message, GET /v1/conversations/{id} does not show the user message followed by the reply",
    )
    for what, cid_, body, expected in (
        ("an unknown conversation id", "no-such-" + nonce(), {"content": "hi"}, (404,)),
        ("an empty content", cid, {"content": ""}, (422,)),
    ):
        sim.clear_requests()
        r = app.post(f"/v1/conversations/{cid_}/messages", json=body, headers=as_user(user), timeout=CHAT_TIMEOUT_S)
        check(r.status_code in expected, f"POST /v1/conversations/{{id}}/messages with {what} answered {r.status_code}; expected {expected[0]}")
        problem = error_body_problem(r)
        check(problem is None, f"POST /v1/conversations/{{id}}/messages with {what}: {problem}")
        check(not generations(sim), f"POST /v1/conversations/{{id}}/messages with {what} still called a provider")


@criterion(
    "p6.full-context",
    CONTEXT,
    hint="Send the model the system prompt, every stored message in order, then the new user "
    "message (app/history.py build_context), with the conversation's model.",
)
def test_full_context(app, sim):
    user = new_user()
    system = f"You are the grader's assistant {nonce()}."
    cid = create(app, user, system=system)["id"]
    contents = [f"Turn {n} of the grader {nonce()}" for n in (1, 2, 3)]
    expected: list[tuple[str, str]] = []
    for n, (_, entry) in enumerate(chat_turns(app, sim, user, cid, contents), start=1):
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
    mine = listed_ids(app, alice)
    check({a1, a2} <= set(mine), f"GET /v1/conversations as the user who created 2 conversations lists {short(mine)}")
    check(b1 not in mine, "GET /v1/conversations lists another user's conversation: list only the caller's (X-User-ID)")
    check(listed_ids(app, bob) == [b1], "GET /v1/conversations as a second user does not list exactly that user's one conversation")
    r = app.delete(f"/v1/conversations/{a1}", headers=as_user(alice), timeout=CHAT_TIMEOUT_S)
    check(r.status_code == 204, f"DELETE /v1/conversations/{{id}} answered {r.status_code}; expected 204")
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
    cid = create(app, user, "a system prompt", system="Count with care.")["id"]
    total_in = total_out = 0
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
    from llmsim.tokens import count_input

    app = started(start_app, {"HISTORY_TOKEN_BUDGET": str(BUDGET)}, "app-budget", f"with HISTORY_TOKEN_BUDGET={BUDGET}")
    user = new_user()
    system = f"You are the grader's assistant {nonce()}; keep this instruction."
    cid = create(app, user, system=system)["id"]
    filler = "the quick brown fox jumps over the lazy dog " * 2
    history: list[tuple[str, str]] = []
    dropped_seen = False
    for n in range(1, 7):
        content = f"Turn {n} {nonce()}: {filler.strip()}"
        full = [*history, ("user", content)]
        _, entry = chat_turns(app, sim, user, cid, [content])[0]
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
        full_tokens = count_input([{"role": r, "content": c} for r, c in full], system=system)
        if full_tokens <= BUDGET:
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


@criterion(
    "p6.compose",
    STORAGE,
    hint="docker-compose.yml: the API (build: ., env_file: .env, REDIS_URL=redis://redis:6379/0, "
    "depends_on redis) and a redis service from the official image with a health check.",
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
    for r in redis:
        check(services[r].get("healthcheck"), f"the Redis service {r!r} in {name} has no healthcheck (redis-cli ping)")
