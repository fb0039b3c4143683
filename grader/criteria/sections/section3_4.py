"""Section 3.4, OpenRouter Integration: the notebook's exercise checks and quiz.

The checks call the learner's functions against llmsim and read its journal: what reached
OpenRouter's endpoint (path, model, attribution headers, which client sent it) and how many
requests one call cost. While a check runs, the OpenRouter and Anthropic variables point at
that llmsim, so a learner with real keys is graded offline too.
"""

import contextlib
import copy
import math
import os
from typing import Any

from grader.criterion import check
from grader.exercise import exercise, section_quiz

APP_URL = "http://localhost:8000"
APP_TITLE = "Multi-Provider Chat"
DEFAULT_MODEL = "anthropic/claude-haiku-4.5"
LLAMA = "meta-llama/llama-3.3-70b-instruct"


def _sim() -> Any:
    from grader.lesson import sim

    s = sim()
    s.clear_faults()
    s.clear_requests()
    return s


@contextlib.contextmanager
def _pointed_at(s: Any):
    """The SDK variables aimed at llmsim while a check runs; the learner's values come back after."""
    wanted = {
        "OPENROUTER_API_BASE": s.url + "/api/v1", "OPENROUTER_API_KEY": "sk-or-llmsim-check",
        "ANTHROPIC_BASE_URL": s.url, "ANTHROPIC_API_KEY": "sk-ant-llmsim-check",
        "ANTHROPIC_API_BASE": s.url,
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


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- 3.4.ask_openrouter -----------------------------------------------------------------------


def _ask(fn: Any, *args: Any) -> Any:
    import openai

    try:
        return fn(*args)
    except openai.APIConnectionError:
        check(False, "ask_openrouter could not connect: take base_url from OPENROUTER_API_BASE "
                     "(https://openrouter.ai/api/v1 only when it is unset)")


def _one_request(s: Any, what: str) -> dict:
    entries = s.requests()
    check(entries, f"{what} sent no request: call client.chat.completions.create(...)")
    first = entries[0]
    check(first["provider"] == "openrouter",
          f"{what} went to {first['path']} (OpenAI's API), not OpenRouter's /api/v1/chat/completions: "
          "set base_url from OPENROUTER_API_BASE")
    check(len(entries) == 1, f"{what} sent {len(entries)} requests; send exactly one")
    return first


def _header(entry: dict, name: str, want: str, constant: str) -> None:
    got = entry["headers"].get(name.lower())
    check(got is not None, f"no {name} header was sent: add {name}: {constant} to the client's default_headers")
    check(got == want, f"{name} was {got!r}; send {constant} ({want!r})")


@exercise("3.4.ask_openrouter", "Request format (OpenAI-compatible)",
          also=["API key setup", "Required headers (HTTP-Referer)", "Model naming"],
          uses=["ask_openrouter"],
          hint="openai.OpenAI(base_url=os.environ.get('OPENROUTER_API_BASE', …), "
               "api_key=os.environ['OPENROUTER_API_KEY'], default_headers={'HTTP-Referer': APP_URL, "
               "'X-Title': APP_TITLE}) inside the function; model ids keep their vendor prefix.")
def ask_openrouter(fn):
    import openai

    check(callable(fn), "ask_openrouter must be a function")
    s = _sim()
    with _pointed_at(s):
        question = "What is OpenRouter?"
        reply = _ask(fn, question)
        entry = _one_request(s, "ask_openrouter(question)")
        model = entry["model"]
        if model != DEFAULT_MODEL and "/" not in str(model):
            check(False, f"the model was sent as {model!r}, without its vendor prefix: "
                         f"OpenRouter's id is {DEFAULT_MODEL!r}")
        check(model == DEFAULT_MODEL, f"the default model must be {DEFAULT_MODEL!r}; it sent {model!r}")
        agent = entry["headers"].get("user-agent", "")
        check(agent.startswith("OpenAI/Python"),
              f"the request was not sent by the OpenAI SDK (user-agent {agent!r}): use openai.OpenAI")
        _header(entry, "HTTP-Referer", APP_URL, "APP_URL")
        _header(entry, "X-Title", APP_TITLE, "APP_TITLE")
        sent = [(m.get("role"), m.get("content")) for m in entry.get("messages") or []]
        check(sent == [("user", question)],
              f"messages must be one user message with the question; it sent {_short(sent)}")
        check(reply == entry["reply"],
              f"ask_openrouter returned {_short(reply)}; return the reply's text (choices[0].message.content)")

        s.clear_requests()
        other = "Which open model are you?"
        reply = _ask(fn, other, LLAMA)
        entry = _one_request(s, f"ask_openrouter(question, model={LLAMA!r})")
        check(entry["model"] == LLAMA, f"with model={LLAMA!r} it sent model {entry['model']!r}; send the model given")
        check(reply == entry["reply"], f"with model={LLAMA!r} it returned {_short(reply)}, not the reply's text")

        s.clear_requests()
        os.environ["OPENROUTER_API_KEY"] = "invalid-key-set-by-the-check"
        try:
            answered = fn("Hello")
        except openai.AuthenticationError:
            answered = None
        except Exception as exc:  # noqa: BLE001 - said to the learner in one line
            check(False, f"with a wrong OPENROUTER_API_KEY it raised {type(exc).__name__}; "
                         "let the SDK's openai.AuthenticationError reach the caller")
        else:
            check(False, f"with a wrong OPENROUTER_API_KEY it still returned {_short(answered)}: read the key "
                         "from the environment inside the function, and do not catch the error")
        check(s.requests(status=401), "with a wrong OPENROUTER_API_KEY no request reached OpenRouter; "
                                      "send os.environ['OPENROUTER_API_KEY'] as the api_key")


# -- 3.4.request_cost and 3.4.cheapest_model --------------------------------------------------


def _model(model_id: str, prompt: str, completion: str, context: int = 128_000, request: str = "0") -> dict:
    return {"id": model_id, "name": model_id, "context_length": context,
            "pricing": {"prompt": prompt, "completion": completion, "request": request, "image": "0"}}


def _live_models(s: Any) -> list[dict]:
    import httpx

    return httpx.get(s.url + "/api/v1/models", timeout=10).json()["data"]


def _usage_of(s: Any, model: str, text: str) -> dict:
    """A real request to llmsim's OpenRouter: its usage, with the cost OpenRouter reports."""
    import httpx

    r = httpx.post(s.url + "/api/v1/chat/completions", timeout=10,
                   headers={"Authorization": "Bearer sk-or-llmsim-check"},
                   json={"model": model, "messages": [{"role": "user", "content": text}]})
    return r.json()["usage"]


def _cost(fn: Any, model: dict, usage: dict, want: float, what: str) -> None:
    got = fn(copy.deepcopy(model), dict(usage))
    check(isinstance(got, (int, float)) and not isinstance(got, bool),
          f"request_cost returned {_short(got)} for {what}; return a number (a float, in USD)")
    if math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-12):
        return
    why = ""
    if want and math.isclose(got * 1e6, want, rel_tol=1e-3):
        why = ": the listed prices are per token already, do not divide by 1,000,000"
    elif want and math.isclose(got, want * 1e6, rel_tol=1e-3):
        why = ": the listed prices are per token already, do not multiply by 1,000,000"
    check(False, f"for {what} request_cost returned {got!r}; it costs {want:.10g} USD{why}")


@exercise("3.4.request_cost", "What models are available",
          uses=["request_cost"],
          hint="float() each price string: prompt_tokens × prompt + completion_tokens × completion "
               "+ request; the prices are USD per token.")
def request_cost(fn):
    check(callable(fn), "request_cost must be a function")
    s = _sim()
    listed = {m["id"]: m for m in _live_models(s)}
    for model_id, text in ((DEFAULT_MODEL, "What does OpenRouter charge?"),
                           (LLAMA, "Explain the difference between prompt and completion tokens, briefly.")):
        usage = _usage_of(s, model_id, text)
        _cost(fn, listed[model_id], usage, usage["cost"],
              f"{model_id} with {usage['prompt_tokens']} prompt and {usage['completion_tokens']} completion "
              "tokens (OpenRouter's reported cost)")
    llama = listed[LLAMA]
    _cost(fn, llama, {"prompt_tokens": 0, "completion_tokens": 0}, 0.0, f"{LLAMA} with no tokens")
    _cost(fn, llama, {"prompt_tokens": 1_000_000, "completion_tokens": 0}, 0.13,
          f"1,000,000 prompt tokens of {LLAMA} (prompt price {llama['pricing']['prompt']})")
    _cost(fn, llama, {"prompt_tokens": 0, "completion_tokens": 1_000_000}, 0.4,
          f"1,000,000 completion tokens of {LLAMA} (completion price {llama['pricing']['completion']})")
    fee = _model("acme/fee-model", "0.000001", "0.000002", request="0.002")
    _cost(fn, fee, {"prompt_tokens": 0, "completion_tokens": 0}, 0.002,
          "a model with a per-request price of 0.002 and no tokens")
    _cost(fn, fee, {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}, 0.004,
          "1000 prompt + 500 completion tokens at 0.000001 / 0.000002 plus a request price of 0.002")


def _pick(fn: Any, models: list[dict], min_context: int, usage: dict, want: str | None, what: str) -> None:
    given = copy.deepcopy(models)
    got = fn(given, min_context, dict(usage))
    check(given == models, "cheapest_model changed the list it was given; leave `models` as it is")
    if isinstance(got, dict):
        check(False, f"cheapest_model returned a whole model entry for {what}; return its id")
    check(got == want, f"for {what} cheapest_model returned {_short(got)}; expected {want!r}")


@exercise("3.4.cheapest_model", "What models are available",
          uses=["cheapest_model"],
          hint="Keep models with context_length >= min_context, compute each one's cost for `usage` "
               "(fee included), keep the first lowest (a strict <), and return its id or None.")
def cheapest_model(fn):
    check(callable(fn), "cheapest_model must be a function")
    s = _sim()
    live = _live_models(s)
    typical = {"prompt_tokens": 1000, "completion_tokens": 200}
    for need, want in ((0, "mistralai/mistral-small-3.2-24b-instruct"),
                       (131_072, "mistralai/mistral-small-3.2-24b-instruct"),
                       (131_073, "openai/gpt-5-mini"), (400_000, "openai/gpt-5-mini"),
                       (400_001, "google/gemini-2.5-flash"), (1_048_576, "google/gemini-2.5-flash"),
                       (1_048_577, None)):
        _pick(fn, live, need, typical, want,
              f"the live model list, min_context={need:,} and 1000 prompt + 200 completion tokens")

    balanced = _model("acme/balanced", "0.000001", "0.000001")
    cheap_prompt = _model("acme/cheap-prompt", "0.0000002", "0.00001")
    pair = [balanced, cheap_prompt]
    _pick(fn, pair, 0, {"prompt_tokens": 10_000, "completion_tokens": 10}, "acme/cheap-prompt",
          "10,000 prompt + 10 completion tokens (prompt-heavy)")
    _pick(fn, pair, 0, {"prompt_tokens": 10, "completion_tokens": 10_000}, "acme/balanced",
          "10 prompt + 10,000 completion tokens (completion-heavy)")

    dear = _model("acme/dear", "0.00001", "0.00001")
    first, second = _model("acme/first", "0.000001", "0.000002"), _model("acme/second", "0.000001", "0.000002")
    _pick(fn, [dear, first, second], 0, typical, "acme/first", "two models at equal prices (acme/first listed first)")
    _pick(fn, [dear, second, first], 0, typical, "acme/second", "two models at equal prices (acme/second listed first)")

    exact = _model("acme/exact", "0.000001", "0.000001", context=32_000)
    short = _model("acme/short", "0.0000001", "0.0000001", context=31_999)
    long_ = _model("acme/long", "0.00001", "0.00001", context=64_000)
    trio = [long_, short, exact]
    _pick(fn, trio, 32_000, typical, "acme/exact", "min_context=32,000 and a model with exactly 32,000")
    _pick(fn, trio, 31_999, typical, "acme/short", "min_context=31,999")
    _pick(fn, trio, 64_001, typical, None, "min_context=64,001 (no model is long enough)")

    fee = _model("acme/fee", "0.0000001", "0.0000001", request="0.01")
    no_fee = _model("acme/no-fee", "0.000001", "0.000001")
    _pick(fn, [fee, no_fee], 0, {"prompt_tokens": 100, "completion_tokens": 100}, "acme/no-fee",
          "100 + 100 tokens where acme/fee charges 0.01 per request")
    _pick(fn, [], 0, typical, None, "an empty model list")


# -- 3.4.router -------------------------------------------------------------------------------


def _complete(router: Any, group: str, text: str, when: str = "", fix: str = "") -> Any:
    try:
        return router.completion(model=group, messages=[{"role": "user", "content": text}])
    except Exception as exc:  # noqa: BLE001 - said to the learner in one line
        first = " ".join(str(exc).split())[:120]
        check(False, f"{when}router.completion(model={group!r}) raised {type(exc).__name__}: {first}{fix}")


def _text(response: Any) -> Any:
    return response.choices[0].message.content


@exercise("3.4.router", "Configuration in Router",
          also=["Model prefix (`openrouter/`)"],
          uses=["build_router"], timeout=30,  # importing litellm alone can take 8 s on a busy machine
          hint="model_list: 'claude' → anthropic/claude-haiku-4-5, 'llama' → "
               "openrouter/meta-llama/llama-3.3-70b-instruct with extra_headers; "
               "fallbacks=[{'claude': ['llama']}], num_retries=0.")
def router(build_router):
    from litellm import Router

    check(callable(build_router), "build_router must be a function")
    s = _sim()
    try:
        with _pointed_at(s):
            r = build_router()
            check(isinstance(r, Router), f"build_router returned {type(r).__name__}; return a litellm.Router")

            reply = _complete(r, "llama", "Which open model are you?")
            entries = s.requests()
            check(entries and all(e["provider"] == "openrouter" for e in entries),
                  "model 'llama' did not reach OpenRouter: use 'openrouter/meta-llama/llama-3.3-70b-instruct'")
            check(len(entries) == 1, f"model 'llama' sent {len(entries)} requests; one call sends one")
            entry = entries[0]
            check(entry["model"] == LLAMA, f"model 'llama' sent model {entry['model']!r} to OpenRouter; send {LLAMA!r}")
            _header(entry, "HTTP-Referer", APP_URL, "APP_URL")
            _header(entry, "X-Title", APP_TITLE, "APP_TITLE")
            check(_text(reply) == entry["reply"], "model 'llama' did not return OpenRouter's reply")

            s.clear_requests()
            _complete(r, "claude", "Who are you?")
            entries = s.requests()
            check(entries and entries[0]["provider"] == "anthropic",
                  "model 'claude' did not reach Anthropic: use 'anthropic/claude-haiku-4-5'")
            check(entries[0]["model"] == "claude-haiku-4-5",
                  f"model 'claude' sent {entries[0]['model']!r} to Anthropic; send 'claude-haiku-4-5'")

            s.clear_requests()
            s.add_fault(provider="anthropic", status=529)
            reply = _complete(r, "claude", "Anyone there?", when="with Anthropic failing, ",
                              fix=" (add fallbacks=[{'claude': ['llama']}])")
            entries = s.requests()
            to_anthropic = [e for e in entries if e["provider"] == "anthropic"]
            to_openrouter = [e for e in entries if e["provider"] == "openrouter"]
            check(len(to_anthropic) == 1,
                  f"with Anthropic failing, 'claude' sent {len(to_anthropic)} requests to Anthropic; "
                  "set num_retries=0 so it falls back at once")
            check(to_openrouter, "with Anthropic failing, nothing went to OpenRouter: add fallbacks=[{'claude': ['llama']}]")
            check(to_openrouter[-1]["model"] == LLAMA and _text(reply) == to_openrouter[-1]["reply"],
                  "with Anthropic failing, 'claude' must answer with Llama through OpenRouter")
    finally:
        s.clear_faults()


# -- quiz ---------------------------------------------------------------------------------------

QUIZ = section_quiz(
    "3.4",
    item="After completing, you can answer: How do I access Llama, Mistral, or other open models "
         "via API? What's the cost difference between providers for the same model? How do I add "
         "OpenRouter to my LiteLLM setup?",
    hint="Reread 3.4.1 (the model list and its prices), 3.4.2 (the endpoint URLs) and 3.4.3 (LiteLLM); "
         "each answered question says why.",
    questions=[
        {"id": "open-models",
         "question": "How do I access Llama, Mistral, or other open models via API?",
         "choices": {
             "a": "Only by downloading the weights and serving them on your own GPU",
             "b": "Call OpenRouter's OpenAI-compatible /chat/completions with your OpenRouter key and the "
                  "model's vendor-prefixed id, e.g. meta-llama/llama-3.3-70b-instruct",
             "c": "Call OpenAI's API with model=\"llama-3.3-70b\"; OpenAI forwards it",
             "d": "Through Anthropic's Messages API, which serves every open model"},
         "answer_hash": "02779902147ceee9a3b943b213d0689f3e0915d8895cf7dd9cc7a69c6ac38f21",
         "explanation": "OpenRouter hosts open-weight models next to closed ones behind one OpenAI-compatible "
                        "API; the id from its model list names the vendor and the model."},
        {"id": "cost-difference",
         "question": "What's the cost difference between providers for the same model?",
         "choices": {
             "a": "OpenRouter doubles every token price, so direct is always half the cost",
             "b": "OpenRouter's prices are per million tokens while Anthropic's are per token, so "
                  "OpenRouter looks a million times cheaper",
             "c": "Per token OpenRouter lists the provider's own price (Claude Haiku 4.5: $1 / $5 per "
                  "million either way); the big differences are between models, so compare `pricing` "
                  "in the model list",
             "d": "There is no way to know before the invoice arrives"},
         "answer_hash": "2cfcbc0ceccd6a7f019a1c1521d29924eac8903f893285f11bdc46b1c2a259a8",
         "explanation": "The notebook compared LiteLLM's price for Anthropic direct with OpenRouter's listed "
                        "price: the same per token (OpenRouter charges a fee when you buy credits). Models "
                        "differ by 100x and more; OpenRouter's prices are USD per token, as strings."},
        {"id": "litellm-setup",
         "question": "How do I add OpenRouter to my LiteLLM setup?",
         "choices": {
             "a": "Set OPENROUTER_API_KEY (and OPENROUTER_API_BASE if not the default), name the model "
                  "openrouter/<vendor>/<model> in completion() or in a Router's model_list, and pass "
                  "your HTTP-Referer and X-Title as extra_headers",
             "b": "Install a separate litellm-openrouter package and import it before litellm",
             "c": "Use the bare OpenRouter id (meta-llama/llama-3.3-70b-instruct); LiteLLM recognises "
                  "OpenRouter from the slash"},
         "answer_hash": "c114470e953a5069829b3071eabc77ee439f7f31c6a38d5cbe607983e54141cc",
         "explanation": "The openrouter/ prefix selects the provider; LiteLLM strips it and sends the rest "
                        "as the model. Without extra_headers it sends its own attribution (liteLLM)."},
        {"id": "model-id",
         "question": "Which model id does OpenRouter itself expect for Claude Haiku 4.5?",
         "choices": {
             "a": "claude-haiku-4-5, as Anthropic's API names it",
             "b": "anthropic/claude-haiku-4.5, as its model list shows",
             "c": "openrouter/anthropic/claude-haiku-4.5"},
         "answer_hash": "2cf52883895ec4d358002e41f26982795d4cc1f5d69bb059929d40e8864f7fda",
         "explanation": "OpenRouter's ids are vendor/model in its own spelling; copy them from GET /models. "
                        "The openrouter/ prefix is LiteLLM's, never sent to OpenRouter."},
        {"id": "endpoint-url",
         "item": "Endpoint URL structure",
         "question": "Your service builds OpenRouter's URLs from one base with httpx. Which pair is right "
                     "for a chat completion and for the model list?",
         "choices": {
             "a": "POST https://openrouter.ai/v1/chat/completions and GET https://openrouter.ai/v1/models",
             "b": "POST https://openrouter.ai/api/v1/chat/completions and GET https://openrouter.ai/api/v1/models",
             "c": "POST https://openrouter.ai/api/v1/messages and GET https://openrouter.ai/api/v1/models",
             "d": "POST https://api.openrouter.ai/v1/chat/completions and GET https://api.openrouter.ai/v1/models"},
         "answer_hash": "0f266af4874054a1fd8b0336445be366df1097dba592181122cf6ef3033a9174",
         "explanation": "The API lives under https://openrouter.ai/api/v1 (mind the /api: without it the URL "
                        "is OpenRouter's website), and the paths after the base are OpenAI's: "
                        "/chat/completions and /models. /messages is Anthropic's path."},
    ],
)
