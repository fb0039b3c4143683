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
import inspect
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


# -- 3.3.basic -------------------------------------------------------------------------------


def _one_user_message(entry: dict, question: str) -> bool:
    sent = [m for m in entry.get("messages") or [] if isinstance(m, dict)]
    return len(sent) == 1 and sent[0].get("role") == "user" and question in json.dumps(sent[0], ensure_ascii=False)


@exercise("3.3.basic", "`litellm.completion()` function",
          also=["Model naming convention (provider/model)", "Async support with `acompletion()`"],
          uses=["ask_model", "ask_all"], timeout=60,
          hint="ask_model: litellm.completion(model=f'{provider}/{model_id}', messages=[{'role': 'user', "
               "'content': question}], max_tokens=200).choices[0].message.content. ask_all: async def, "
               "await asyncio.gather(*(litellm.acompletion(...) for q in questions)), then each reply's text.")
def basic(ask_model, ask_all):
    check(callable(ask_model), "ask_model must be a function: def ask_model(provider, model_id, question)")
    check(callable(ask_all), "ask_all must be a function: async def ask_all(model, questions)")
    s = _sim()
    with _pointed_at(s):
        # ask_model: the provider and its own model id, joined the LiteLLM way; one sync request.
        for provider, model_id in (("anthropic", "claude-haiku-4-5"), ("openai", "gpt-4o-mini"),
                                   ("openrouter", "openai/gpt-4o-mini"),
                                   ("openrouter", "meta-llama/llama-3.3-70b-instruct")):
            marker = _marker()
            question = f"What is a model group? {marker}"
            what = f"ask_model({provider!r}, {model_id!r}, …)"
            got = ask_model(provider, model_id, question)
            if inspect.isawaitable(got):
                with contextlib.suppress(Exception):
                    got.close()
                check(False, f"{what} returned a coroutine: ask_model is a plain function, "
                             "call litellm.completion (acompletion is for ask_all)")
            entries = _entries(s, marker)
            check(entries, f"{what} sent no request to llmsim: call litellm.completion")
            check(len(entries) == 1, f"{what} sent {len(entries)} requests [{_attempts(entries)}]; send exactly one")
            entry = entries[0]
            check((entry["provider"], entry["model"]) == (provider, model_id),
                  f"{what} reached {entry['provider']} {entry['model']!r}; name the model "
                  f"'{provider}/{model_id}' (the provider prefix, then the provider's own model id)")
            check(_one_user_message(entry, question),
                  f"{what} sent messages {[m.get('role') for m in entry.get('messages') or [] if isinstance(m, dict)]}; "
                  "send one user message with the question")
            check(entry.get("max_tokens") == 200, f"{what} sent max_tokens={entry.get('max_tokens')!r}; pass max_tokens=200")
            check(isinstance(got, str), f"{what} returned {type(got).__name__}; return the reply's text, "
                                        "response.choices[0].message.content")
            check(got == entry["reply"], f"{what} returned {got[:40]!r}…, not the reply llmsim sent")

        # ask_all: every question in flight at once, on the event loop; the replies in order.
        check(inspect.iscoroutinefunction(ask_all), "ask_all must be a coroutine function: async def ask_all(model, questions)")
        marker = _marker()
        questions = [f"Question {n}: what is {topic}? {marker}" for n, topic in enumerate(("HTTP", "REST", "JSON", "TCP"))]
        delay = 0.5
        s.add_fault(provider="openai", model="gpt-4o-mini", kind="slow", delay_s=delay, times=len(questions))
        try:
            started = time.monotonic()
            got = asyncio.run(ask_all(MINI, list(questions)))
            took = time.monotonic() - started
        finally:
            s.clear_faults()
        entries = _entries(s, marker)
        what = f"ask_all({MINI!r}, {len(questions)} questions)"
        check(len(entries) == len(questions),
              f"{what} sent {len(entries)} requests; send one per question")
        check(all((e["provider"], e["model"]) == ("openai", "gpt-4o-mini") for e in entries),
              f"{what} reached [{', '.join(e['provider'] + ' ' + repr(e['model']) for e in entries)}]; pass the model as given")
        first_done = min(e.get("ended_at") or math.inf for e in entries)
        last_start = max(e["started_at"] for e in entries)
        check(last_start < first_done,
              f"with each answer taking {delay} s, {what} sent its requests one after another ({took:.1f} s in all): "
              "start them all at once (asyncio.gather of litellm.acompletion calls)")
        check(isinstance(got, list) and len(got) == len(questions),
              f"{what} returned {type(got).__name__}{'' if not isinstance(got, list) else f' of {len(got)}'}; "
              "return a list with one reply text per question")
        for n, question in enumerate(questions):
            entry = next((e for e in entries if _one_user_message(e, question)), None)
            check(entry is not None, f"{what}: no request carried question {n} alone as its user message")
            check(got[n] == entry["reply"],
                  f"{what}: item {n} is {str(got[n])[:40]!r}, not the reply to question {n}: "
                  "return the replies' texts in the questions' order")


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
          also=["Automatic fallback on failures", "Setting up multiple providers", "Retry settings"],
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
          also=["`stream=True` parameter", "Iterating over chunks (same format for all providers)"],
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
        {"id": "one-interface",
         "item": "Single interface to 100+ providers",
         "question": "Through LiteLLM, you send messages=[{'role': 'system', 'content': 'Be brief.'}, "
                     "{'role': 'user', 'content': 'Hi'}] to 'anthropic/claude-haiku-4-5'. What does Anthropic "
                     "receive, and where do you read the answer?",
         "choices": {
             "a": "The same two messages, system role included; the answer is in response.content[0].text",
             "b": "The system message moved into Anthropic's top-level system field and one user message; "
                  "the answer is in response.choices[0].message.content, as for every provider",
             "c": "Only the user message: LiteLLM drops system messages for providers that have no system role",
             "d": "An OpenAI-format request on Anthropic's endpoint, which Anthropic converts itself",
         },
         "answer_hash": "bc9123cb6d1c75cb914fe1795ae7417f5f9e61447d95694b353d968c5a863d46",
         "explanation": "LiteLLM's single interface is OpenAI's format: it translates the request for each "
                        "provider (Anthropic's system prompt is a field, not a message, as the journal showed in "
                        "3.3.1) and translates the response back, so the reading code never changes."},
        {"id": "switching",
         "item": "Easy provider switching",
         "question": "Your app calls litellm.completion(model=os.environ['CHAT_MODEL'], ...) and reads "
                     "choices[0].message.content. Tomorrow it must use GPT-4o mini instead of Claude Haiku. "
                     "What changes?",
         "choices": {
             "a": "The configuration: CHAT_MODEL=openai/gpt-4o-mini and OPENAI_API_KEY set, then a restart; "
                  "no line of code",
             "b": "The parsing code: OpenAI's replies have a different shape from Anthropic's",
             "c": "Install the openai SDK and catch its exception classes instead of Anthropic's",
             "d": "Nothing: LiteLLM moves to the cheaper model by itself",
         },
         "answer_hash": "57b95496ab43cbbfd97b92f61b64bec05214724be9cfee9bf222a6e7a29e8f39",
         "explanation": "The provider is part of a string. Kept in configuration, it changes without touching "
                        "code: the request, the response and the exceptions keep LiteLLM's one format. Only the "
                        "new provider's key has to be there."},
        {"id": "install",
         "item": "Installing `litellm`",
         "question": "What should a production app's requirements.txt say about LiteLLM?",
         "choices": {
             "a": "litellm, unpinned, so every deploy gets the newest fixes",
             "b": "litellm[proxy], since the Router needs the proxy server",
             "c": "litellm==<the exact version you tested>, upgraded on purpose after reading the release "
                  "notes; and import litellm at module top, not inside a handler",
             "d": "Nothing: LiteLLM is installed with the anthropic and openai SDKs",
         },
         "answer_hash": "1c5b9dec5d3a633262f702f15b8503e89f16aaa4e9aa2e9bf1d9dc6a3398b82a",
         "explanation": "LiteLLM releases very often (and one release was published compromised), so pin the "
                        "version you tested. Its import takes seconds (measured in the setup cell): pay it once "
                        "at start-up. The [proxy] extra is LiteLLM's own proxy server, which the Router does "
                        "not need."},
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
        {"id": "load-balancing",
         "item": "Load balancing strategies",
         "question": "A Router group 'chat' has two deployments of the same model, one of which answers 0.2 s "
                     "slower than the other. Which routing_strategy sends (almost) every request to the faster one?",
         "choices": {
             "a": "simple-shuffle, the default: it always prefers the faster deployment",
             "b": "latency-based-routing: it picks the deployment that answered fastest recently",
             "c": "cost-based-routing: the faster deployment is the cheaper one",
             "d": "None: a group always alternates between its deployments",
         },
         "answer_hash": "94f22009dd32dfa03842104fcc8d95984a0fbd31f252401d12b88b62bc6d3d84",
         "explanation": "simple-shuffle picks at random (weighted by weight, rpm or tpm), so the slow deployment "
                        "still gets its share; latency-based-routing learns each deployment's recent latency "
                        "and prefers the fastest, as the journal in 3.3.3 showed."},
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
    hint="Re-read 3.3.1 (one interface, switching by configuration), 3.3.2 (installing, model names), and "
         "3.3.3 (load balancing, fallbacks and retries, measured in the journal).",
)
