"""Section 3.3, LiteLLM: the notebook's exercise checks and quiz.

The checks call the learner's code through LiteLLM against the llmsim this kernel uses
(grader.lesson.sim()) and read llmsim's journal: which provider and model each attempt
reached, in which order, streamed or not. While a check runs, the provider variables point at
that llmsim, so a learner with real keys is graded offline (and pays nothing). Each check's
requests carry a marker of their own in the user message: the journal is filtered by it,
never cleared, so the lab's shared llmsim keeps other notebooks' entries.
"""

import asyncio
import contextlib
import json
import math
import os
import time
import uuid
from typing import Any

from grader.criterion import check
from grader.exercise import exercise, section_quiz

HAIKU = "anthropic/claude-haiku-4-5"
SONNET = "anthropic/claude-sonnet-4-6"
MINI = "openai/gpt-4o-mini"
LLAMA = "openrouter/meta-llama/llama-3.3-70b-instruct"


def _sim() -> Any:
    from grader.lesson import sim

    return sim()


@contextlib.contextmanager
def _pointed_at(s: Any):
    """The provider variables aimed at llmsim while a check runs; the learner's values come back after."""
    wanted = {
        "ANTHROPIC_BASE_URL": s.url, "ANTHROPIC_API_BASE": s.url, "ANTHROPIC_API_KEY": "sk-ant-llmsim-check",
        "OPENAI_BASE_URL": s.url + "/v1", "OPENAI_API_BASE": s.url + "/v1", "OPENAI_API_KEY": "sk-llmsim-check",
        "OPENROUTER_API_BASE": s.url + "/api/v1", "OPENROUTER_API_KEY": "sk-or-llmsim-check",
    }
    saved = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _marker() -> str:
    return f"[check {uuid.uuid4().hex[:10]}]"


def _entries(s: Any, marker: str, *, settle_s: float = 2.0) -> list[dict]:
    """The journal entries whose messages carry ``marker``, oldest first, none still in flight."""
    deadline = time.monotonic() + settle_s
    while True:
        found = [e for e in s.requests() if marker in json.dumps(e.get("messages"))]
        if all(e.get("ended_at") is not None for e in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def _provider_model(name: str) -> tuple[str, str]:
    """"openrouter/meta-llama/x" -> ("openrouter", "meta-llama/x")."""
    provider, _, model = name.partition("/")
    return provider, model


def _attempts(entries: list[dict]) -> str:
    return ", ".join(f"{e['provider']} {e['status']}" for e in entries) or "none"


def _text(response: Any) -> Any:
    try:
        return response.choices[0].message.content
    except (AttributeError, IndexError, TypeError):
        return None


# -- 3.3.cost --------------------------------------------------------------------------------


def _price_list_cost(model: str, usage: Any) -> float:
    import litellm

    price = litellm.model_cost[model]
    return usage.prompt_tokens * price["input_cost_per_token"] + usage.completion_tokens * price["output_cost_per_token"]


def _by_hand(model: str, prompt_tokens: int, completion_tokens: int) -> Any:
    import litellm

    return litellm.ModelResponse(
        model=model,
        choices=[{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "(a long answer)"}}],
        usage=litellm.Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                            total_tokens=prompt_tokens + completion_tokens),
    )


@exercise("3.3.cost", "Cost optimization",
          uses=["reply_cost"],
          hint="litellm.completion_cost(completion_response=response), or by hand: "
               "usage.prompt_tokens × input_cost_per_token + usage.completion_tokens × output_cost_per_token "
               "from litellm.model_cost[response.model].")
def cost(reply_cost):
    import litellm

    check(callable(reply_cost), "reply_cost must be a function: def reply_cost(response) -> float")
    s = _sim()
    marker = _marker()
    cases: list[tuple[str, Any, str]] = []  # (what, response, price-list name)
    with _pointed_at(s):
        for model, prompt, max_tokens, what in (
            (HAIKU, "Explain what a cost map is.", 200, "a Claude Haiku 4.5 reply"),
            (MINI, "Explain what a cost map is.", 200, "a GPT-4o mini reply"),
            (SONNET, "Explain, at length and with examples, how LLM providers price tokens. " * 4, 5,
             "a Claude Sonnet 4.6 reply cut at 5 tokens"),
        ):
            messages = [{"role": "user", "content": f"{prompt} {marker}"}]
            cases.append((what, litellm.completion(model=model, messages=messages, max_tokens=max_tokens),
                          _provider_model(model)[1]))
        messages = [{"role": "user", "content": f"Stream a reply to price. {marker}"}]
        chunks = list(litellm.completion(model=MINI, messages=messages, max_tokens=100, stream=True,
                                         stream_options={"include_usage": True}))
        cases.append(("a streamed GPT-4o mini reply rebuilt with stream_chunk_builder",
                      litellm.stream_chunk_builder(chunks, messages=messages), "gpt-4o-mini"))
    cases.append(("a Claude Haiku 4.5 reply of a long conversation (12,000 tokens in, 3,000 out)",
                  _by_hand("claude-haiku-4-5-20251001", 12000, 3000), "claude-haiku-4-5"))
    cases.append(("a GPT-4o mini reply of a long conversation (12,000 tokens in, 3,000 out)",
                  _by_hand("gpt-4o-mini-2024-07-18", 12000, 3000), "gpt-4o-mini"))

    for what, response, priced_as in cases:
        usage = response.usage
        want = _price_list_cost(priced_as, usage)
        got = reply_cost(response)
        check(isinstance(got, (int, float)) and not isinstance(got, bool),
              f"reply_cost({what}) returned {type(got).__name__}; return the cost in USD as a float")
        check(math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-12),
              f"reply_cost({what}: {usage.prompt_tokens} tokens in, {usage.completion_tokens} out) returned "
              f"{got!r}; LiteLLM's price list gives {want:.8f} USD (input and output tokens, each at its price)")


# -- 3.3.router ------------------------------------------------------------------------------


def _build(build_router: Any, primary: str, fallback: str, retries: int) -> Any:
    from litellm import Router

    r = build_router(primary, fallback, retries)
    check(isinstance(r, Router), f"build_router returned {type(r).__name__}; return a litellm.Router")
    return r


def _complete(r: Any, group: str, marker: str, when: str) -> Any:
    messages = [{"role": "user", "content": f"Which model answers? {marker}"}]
    try:
        return r.completion(model=group, messages=messages, max_tokens=30)
    except Exception as exc:  # noqa: BLE001 - any failure of the learner's Router is one line of feedback
        text = " ".join(str(exc).split())[:160]
        check(False, f"{when}router.completion(model={group!r}) raised {type(exc).__name__}: {text}")


def _expect(entries: list[dict], want: list[tuple[str, str, int]], when: str, fix: str) -> None:
    got = [(e["provider"], e["model"], e["status"]) for e in entries]
    expected = ", ".join(f"{p} {s}" for p, _, s in want)
    check(got == want, f"{when}the attempts were [{_attempts(entries)}]; expected [{expected}]{fix}")


@exercise("3.3.router", "Configuring fallbacks",
          uses=["build_router"], timeout=60,
          hint="Router(model_list=[{'model_name': 'primary', 'litellm_params': {'model': primary}}, "
               "{'model_name': 'fallback', ...}], fallbacks=[{'primary': ['fallback']}], num_retries=retries).")
def router(build_router):
    check(callable(build_router), "build_router must be a function: def build_router(primary, fallback, retries)")
    s = _sim()
    s.clear_faults()
    try:
        with _pointed_at(s):
            # Nothing fails: one request each, to the right deployment.
            r = _build(build_router, HAIKU, MINI, 1)
            for group, name in (("primary", HAIKU), ("fallback", MINI)):
                marker = _marker()
                reply = _complete(r, group, marker, "with nothing failing, ")
                entries = _entries(s, marker)
                provider, model = _provider_model(name)
                check(entries, f"router.completion(model={group!r}) sent no request to llmsim: "
                               "leave api_base unset (LiteLLM reads it from the environment)")
                check(len(entries) == 1, f"with nothing failing, model {group!r} sent {len(entries)} requests "
                                         f"[{_attempts(entries)}]; a call that succeeds sends one")
                check((entries[0]["provider"], entries[0]["model"]) == (provider, model),
                      f"model {group!r} reached {entries[0]['provider']} {entries[0]['model']!r}; with "
                      f"build_router({HAIKU!r}, {MINI!r}, 1) it must call {name!r}")
                check(_text(reply) == entries[0]["reply"], f"model {group!r} did not return its provider's reply")

            # The primary always fails, retries=0: one attempt, then the fallback, once.
            r = _build(build_router, HAIKU, MINI, 0)
            s.add_fault(provider="anthropic", model="claude-haiku-4-5", status=529, times=5)
            marker = _marker()
            when = "with retries=0 and the primary (Anthropic) always answering 529, "
            reply = _complete(r, "primary", marker, when)
            entries = _entries(s, marker)
            _expect(entries, [("anthropic", "claude-haiku-4-5", 529), ("openai", "gpt-4o-mini", 200)], when,
                    ": one attempt on the primary (1 + retries), then the fallback")
            check(_text(reply) == entries[-1]["reply"], f"{when}the reply is not the fallback's")
            s.clear_faults()

            # The primary fails once, retries=1: its retry answers, nothing reaches the fallback.
            r = _build(build_router, HAIKU, MINI, 1)
            s.add_fault(provider="anthropic", model="claude-haiku-4-5", status=529, times=1)
            marker = _marker()
            when = "with retries=1 and the primary (Anthropic) failing once, "
            reply = _complete(r, "primary", marker, when)
            entries = _entries(s, marker)
            _expect(entries, [("anthropic", "claude-haiku-4-5", 529), ("anthropic", "claude-haiku-4-5", 200)], when,
                    ": the retry on the primary answers, and nothing goes to the fallback")
            check(_text(reply) == entries[-1]["reply"], f"{when}the reply is not the primary's retry")
            s.clear_faults()

            # Other providers, the primary always fails, retries=1: two attempts, then the fallback.
            r = _build(build_router, MINI, LLAMA, 1)
            s.add_fault(provider="openai", model="gpt-4o-mini", status=500, times=5)
            marker = _marker()
            when = f"with build_router({MINI!r}, {LLAMA!r}, 1) and OpenAI always answering 500, "
            reply = _complete(r, "primary", marker, when)
            entries = _entries(s, marker)
            _expect(entries, [("openai", "gpt-4o-mini", 500), ("openai", "gpt-4o-mini", 500),
                              ("openrouter", "meta-llama/llama-3.3-70b-instruct", 200)], when,
                    ": 1 + retries attempts on the primary, then the fallback")
            check(_text(reply) == entries[-1]["reply"], f"{when}the reply is not the fallback's")
    finally:
        s.clear_faults()


# -- 3.3.stream ------------------------------------------------------------------------------


async def _collect(stream_reply: Any, model: str, prompt: str) -> list:
    agen = stream_reply(model, prompt)
    check(hasattr(agen, "__aiter__"),
          f"stream_reply(...) returned {type(agen).__name__}; it must be an async generator (async def with yield)")
    return [piece async for piece in agen]


@exercise("3.3.stream", "Async streaming",
          uses=["stream_reply"],
          hint="response = await litellm.acompletion(model=model, messages=[{'role': 'user', 'content': prompt}], "
               "stream=True); async for chunk in response: yield chunk.choices[0].delta.content when it is not empty.")
def stream(stream_reply):
    check(callable(stream_reply), "stream_reply must be a function: async def stream_reply(model, prompt)")
    s = _sim()
    with _pointed_at(s):
        for model, prompt in ((HAIKU, "Stream a reply about rivers, with ünïcode and 日本語 🎉."),
                              (MINI, "Stream a reply about async generators.")):
            marker = _marker()
            question = f"{prompt} {marker}"
            pieces = asyncio.run(_collect(stream_reply, model, question))
            entries = _entries(s, marker)
            what = f"stream_reply({model!r}, …)"
            check(entries, f"{what} sent no request to llmsim: call litellm.acompletion with the model as given")
            check(len(entries) == 1, f"{what} sent {len(entries)} requests; send exactly one")
            entry = entries[0]
            provider, name = _provider_model(model)
            check((entry["provider"], entry["model"]) == (provider, name),
                  f"{what} reached {entry['provider']} {entry['model']!r}; pass the model name as given")
            check(entry.get("stream") is True, f"{what} sent a request without stream on: pass stream=True")
            sent = [m for m in entry.get("messages") or [] if isinstance(m, dict)]
            check(len(sent) == 1 and sent[0].get("role") == "user" and question in json.dumps(sent[0], ensure_ascii=False),
                  f"{what} sent messages {[m.get('role') for m in sent]}; send one user message with the prompt")
            bad = [p for p in pieces if not isinstance(p, str) or not p]
            if bad:
                check(False, f"{what} yielded {bad[0]!r}; yield only non-empty strings (skip chunks without text)")
            check("".join(pieces) == entry["reply"],
                  f"{what}: the pieces joined are {''.join(pieces)[:60]!r}…, not the reply llmsim sent")
            streamed = entry.get("tokens_streamed")
            check(len(pieces) == streamed,
                  f"{what} yielded {len(pieces)} piece(s) for {streamed} streamed chunks with text; "
                  "yield each chunk's text as it arrives")


# -- quiz --------------------------------------------------------------------------------------

QUIZ = section_quiz(
    "3.3",
    item="After completing, you can answer: How do I call Claude and GPT-4 with the same code? "
         "How do I automatically fall back to GPT-4 if Claude fails? "
         "How do I add OpenRouter models to my application?",
    questions=[
        {"id": "same-code",
         "question": "How do you call Claude and GPT-4 with the same code?",
         "choices": {
             "a": "Install both SDKs and write an if/else on the provider around each call",
             "b": "litellm.completion(model=name, messages=[...]) with name 'anthropic/claude-haiku-4-5' or "
                  "'openai/gpt-4o': OpenAI-style messages in, an OpenAI-style response out, for both",
             "c": "Send Anthropic's request body to OpenAI's endpoint: they accept each other's format",
             "d": "litellm.completion(model='claude-or-gpt') picks the best one for you",
         },
         "answer_hash": "408c45cab8512ba2155be3e2ab2a3e1c41a90a9fadda164371c5636affb86b05",
         "explanation": "LiteLLM translates OpenAI's format to each provider's (a system message becomes "
                        "Anthropic's system field) and back; the provider prefix of the model name picks the "
                        "API. Switching is changing a string, ideally in configuration."},
        {"id": "fallback",
         "question": "How do you fall back to GPT-4 automatically when Claude fails?",
         "choices": {
             "a": "Wrap every call in try/except and call the OpenAI SDK in the except block",
             "b": "Give the Router one model group containing both models: it never sends to a failing one",
             "c": "A Router with a group for each (say 'claude' and 'gpt-4'), and "
                  "fallbacks=[{'claude': ['gpt-4']}]: after Claude's retries, the request goes to GPT-4",
             "d": "Set num_retries high enough: the Router switches provider on its last retry",
         },
         "answer_hash": "93509eb66c1abcf1438560ab079be5dbe229a3276aa65a9fb2e9a0fca7aa19eb",
         "explanation": "fallbacks maps a group to the groups to try next, in order; the reply's model (and "
                        "x-litellm-model-group) says who answered. A group of two deployments load-balances "
                        "between them, which is a different thing: the failing one is used until it is cooled down."},
        {"id": "openrouter",
         "question": "How do you add an OpenRouter model, such as Llama 3.3 70B, to your LiteLLM setup?",
         "choices": {
             "a": "Name it 'openrouter/meta-llama/llama-3.3-70b-instruct' (prefix + OpenRouter's id) and set "
                  "OPENROUTER_API_KEY; in a Router it is one more entry of model_list",
             "b": "Name it 'meta-llama/llama-3.3-70b-instruct': LiteLLM finds OpenRouter by itself",
             "c": "Install the openrouter SDK: LiteLLM only supports Anthropic and OpenAI",
         },
         "answer_hash": "186cf9f62b9dfb0c99fa3385c83b964c4ae9677bde59e0555dcbdc49a50016b1",
         "explanation": "The openrouter/ prefix selects OpenRouter's OpenAI-compatible API and its key "
                        "variable; the rest of the name, slashes included, is sent as OpenRouter's model id."},
        {"id": "retries-latency",
         "question": "A Router has num_retries=2 and a fallback, and the primary provider is down. "
                     "What does a request go through?",
         "choices": {
             "a": "One attempt on the primary, then the fallback at once",
             "b": "Three attempts on the primary, with growing waits between them (and one more before "
                  "the hand-over), then the fallback: seconds of extra latency",
             "c": "Two attempts on the fallback, then the primary",
             "d": "Nothing: the Router raises as soon as the primary fails",
         },
         "answer_hash": "f59fa305cc100abb09d2b689b41a7e7c441eeb9c22350ab65b7750139d40d34b",
         "explanation": "num_retries counts extra attempts on the same group, with exponential back-off and "
                        "jitter between them; the journal in 3.3.3 measured the waits. For an interactive API, "
                        "few retries and a fallback to another provider usually serve users better."},
    ],
    hint="Re-read 3.3.1 (one interface), 3.3.2 (model names), and 3.3.3 (fallbacks and retries, measured "
         "in the journal).",
)
