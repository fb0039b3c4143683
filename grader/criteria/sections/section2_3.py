"""Section 2.3, FastAPI Async Patterns: the exercises' checks and the quiz.

2.3.no_freeze serves the learner's app with real uvicorn and measures: one /slow alone, then
four /slow at once with a /health in the middle. Ratios against the single request, never
absolute times, so a loaded machine does not change the verdict. 2.3.shared_client runs the
learner's app through TestClient as a context manager (which runs the lifespan) and counts
the httpx.AsyncClient objects built while it starts, serves and stops, twice.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from grader.criterion import check
from grader.exercise import exercise, section_quiz

# -- 2.3.no_freeze ------------------------------------------------------------------------------

CONCURRENT = 4


def _get(client: Any, url: str) -> tuple[int, float, float]:
    """(status, started, finished) of one GET, times from time.monotonic()."""
    started = time.monotonic()
    r = client.get(url)
    return r.status_code, started, time.monotonic()


@exercise("2.3.no_freeze", "Avoiding blocking the event loop", uses=["slow_app"],
          hint="call blocking_lookup from a plain `def` endpoint, or `await asyncio.to_thread(blocking_lookup, key)` "
               "inside `async def`")
def no_freeze(slow_app):
    import httpx

    from grader.lesson import serve

    check(slow_app is not None and callable(slow_app), "slow_app is not a FastAPI app: build it with FastAPI()")
    server = serve(slow_app, name="check-2.3-no-freeze")
    try:
        with httpx.Client(base_url=server.url, timeout=15.0) as client:
            r = client.get("/health")
            check(r.status_code == 200, f"GET /health answered {r.status_code}; it must answer 200")
            started = time.monotonic()
            r = client.get("/slow", params={"key": "alpha"})
            single = time.monotonic() - started
            check(r.status_code == 200, f"GET /slow?key=alpha answered {r.status_code}; it must answer 200")
            check(r.json() == {"key": "alpha", "value": "ALPHA"},
                  f"GET /slow?key=alpha returned {r.text[:80]}; it must return what blocking_lookup('alpha') returns")
            check(single >= 0.2, f"GET /slow took {single * 1000:.0f} ms; it must call blocking_lookup (about 400 ms)")

        limits = httpx.Limits(max_connections=CONCURRENT + 2)
        with httpx.Client(base_url=server.url, timeout=15.0, limits=limits) as client, \
                ThreadPoolExecutor(CONCURRENT + 1) as pool:
            begin = time.monotonic()
            slows = [pool.submit(_get, client, f"/slow?key=k{i}") for i in range(CONCURRENT)]
            time.sleep(min(0.05, single / 4))  # let the /slow requests reach the app first
            health = pool.submit(_get, client, "/health").result()
            results = [f.result() for f in slows]
            total = max(end for _, _, end in results) - begin
    finally:
        server.stop()
    check(all(status == 200 for status, _, _ in results), "one of the concurrent GET /slow requests failed")
    ratio = total / single
    check(ratio < 2.2, f"{CONCURRENT} concurrent GET /slow took {total * 1000:.0f} ms, {ratio:.1f}× one request "
          f"({single * 1000:.0f} ms): they ran one after another; they must overlap (under 2.2×)")
    status, h_start, h_end = health
    check(status == 200, f"GET /health answered {status} while /slow requests were in flight")
    waited = h_end - h_start
    check(waited < 0.5 * single, f"GET /health took {waited * 1000:.0f} ms while /slow requests were in flight: "
          f"the event loop was blocked; it must answer at once (under half of one /slow)")


# -- 2.3.shared_client --------------------------------------------------------------------------

REQUESTS_PER_RUN = 5


class _Counter:
    """Counts httpx.AsyncClient objects built while it is active (the learner's, whatever the import)."""

    def __init__(self) -> None:
        self.built: list = []
        self._lock = threading.Lock()

    def __enter__(self) -> "_Counter":
        import httpx

        self._original = original = httpx.AsyncClient.__init__
        built, lock = self.built, self._lock

        def counting_init(client, *args, **kwargs):
            with lock:
                built.append(client)
            original(client, *args, **kwargs)

        httpx.AsyncClient.__init__ = counting_init
        return self

    def __exit__(self, *exc) -> None:
        import httpx

        httpx.AsyncClient.__init__ = self._original


def _expected_models(base_url: str) -> list[str]:
    import httpx

    r = httpx.get(base_url.rstrip("/") + "/api/v1/models", timeout=5.0)
    return [m["id"] for m in r.json()["data"]]


@exercise("2.3.shared_client", "Startup: initializing async resources (HTTP clients, DB pools)",
          also=["Shutdown: cleaning up resources properly",
                "Using `@asynccontextmanager` with `lifespan` parameter"],
          uses=["create_app"],
          hint="in the lifespan: `app.state.client = httpx.AsyncClient(base_url=base_url)`, `yield`, then "
               "`await app.state.client.aclose()`; the endpoint uses request.app.state.client")
def shared_client(create_app):
    import httpx
    from fastapi.testclient import TestClient

    from grader.lesson import sim

    check(callable(create_app), "create_app is not a function: define it with def create_app(base_url): …")
    base_url = sim().url
    want = _expected_models(base_url)
    with _Counter() as counter:
        app = create_app(base_url)
        check(app is not None, "create_app returned None: it must return the FastAPI app")
        check(not counter.built, f"create_app built {len(counter.built)} AsyncClient(s) before the app started: "
              "open the client in the lifespan, so each start gets its own")
        for run in (1, 2):
            with TestClient(app) as client:  # runs the lifespan: startup here, shutdown on exit
                check(len(counter.built) == run, f"start #{run} of the app built {len(counter.built) - run + 1} "
                      "AsyncClient(s); the lifespan must open exactly one")
                shared = getattr(app.state, "client", None)
                check(isinstance(shared, httpx.AsyncClient),
                      f"app.state.client is {type(shared).__name__} after startup; it must be the httpx.AsyncClient")
                for _ in range(REQUESTS_PER_RUN):
                    r = client.get("/models")
                    check(r.status_code == 200, f"GET /models answered {r.status_code}; it must answer 200")
                    body = r.json()
                    check(isinstance(body, dict) and body.get("models") == want,
                          f"GET /models returned {r.text[:80]}; it must return {{\"models\": [ids from "
                          "GET /api/v1/models of llmsim]}}")
                check(len(counter.built) == run, f"{REQUESTS_PER_RUN} requests built {len(counter.built) - run} more "
                      "AsyncClient(s); every request must use app.state.client")
                check(not shared.is_closed, "the shared client was closed while the app was running")
            check(shared.is_closed, f"after the app stopped (run #{run}) app.state.client was still open: "
                  "close it with `await client.aclose()` after the lifespan's yield")


# -- 2.3.usage_after_response ------------------------------------------------------------------


@exercise("2.3.usage_after_response", "Using `BackgroundTasks` for fire-and-forget operations",
          uses=["usage_app", "USAGE"],
          hint="declare `background_tasks: BackgroundTasks` and call "
               "`background_tasks.add_task(save_usage, user, tokens)`: pass the function, do not call it")
def usage_after_response(usage_app, USAGE):
    import httpx

    from grader.lesson import serve

    check(usage_app is not None and callable(usage_app), "usage_app is not a FastAPI app: build it with FastAPI()")
    check(isinstance(USAGE, list), "USAGE is not a list: run the exercise cell as given")
    user = f"check-{time.monotonic_ns()}"  # tags this check's entry among the learner's own
    message = "how long is this message"

    def ours() -> list:
        return [e for e in list(USAGE) if isinstance(e, dict) and e.get("user") == user]

    server = serve(usage_app, name="check-2.3-usage")
    try:
        with httpx.Client(base_url=server.url, timeout=10.0) as client:
            r = client.post("/chat", json={"user": user, "message": message})
            at_response = ours()
            check(r.status_code == 200, f"POST /chat answered {r.status_code}; it must answer 200")
            body = r.json()
            check(isinstance(body, dict) and isinstance(body.get("reply"), str),
                  f"POST /chat returned {r.text[:80]}; it must return {{\"reply\": \"...\"}}")
            check(not at_response, "the usage was already saved when the response arrived: the user waited for "
                  "save_usage; run it as a background task")
            deadline = time.monotonic() + 3.0
            while not ours() and time.monotonic() < deadline:
                time.sleep(0.02)
    finally:
        server.stop()
    entries = ours()
    check(entries, "save_usage never recorded the chat within 3 s of the response: add it as a background task")
    check(entries == [{"user": user, "tokens": 5}],
          f"USAGE got {entries}; for the message {message!r} it must get [{{'user': …, 'tokens': 5}}] (once)")


# -- quiz ---------------------------------------------------------------------------------------

QUIZ = section_quiz(
    "2.3",
    item="After completing, you can answer: Where do I create my httpx client so it's shared across requests? "
         "How do I run something after returning a response to the user? What happens if I use a blocking "
         "library in an async endpoint?",
    hint="re-run the measurements of the notebook: thread names, the shared client's id, the timings",
    questions=[
        {
            "id": "where-it-runs",
            "item": "When FastAPI runs `async def` vs `def` differently",
            "question": "A served app has `@app.get(\"/a\") async def a()` and `@app.get(\"/b\") def b()`. "
                        "Where does FastAPI run each function?",
            "choices": {
                "a": "Both on the event loop thread; `def` only differs in that it cannot `await`",
                "b": "Each call in a new thread of its own, whichever way the function is declared",
                "c": "`a` is awaited on the event loop thread; `b` is sent to a worker thread of the thread pool, "
                     "and the loop goes on serving other requests meanwhile",
                "d": "`a` in a worker thread, because it is async; `b` on the event loop thread",
            },
            "answer_hash": "e5a3dbebb899d690382d8f305cdbca988fff14f987316bf9ab7de0b3ceee3ce7",
            "explanation": "The thread names in 2.3.1 show it: every `async def` call ran in uvicorn's loop "
                           "thread, every `def` call in an AnyIO worker thread. FastAPI awaits coroutines "
                           "directly and hands plain functions to its thread pool.",
        },
        {
            "id": "mixing",
            "item": "Mixing async and sync in the same app",
            "question": "One app has `async def /chat`, which awaits an async LLM SDK, and `def /report`, which "
                        "calls a sync database driver for 300 ms. Four requests reach each endpoint at once. "
                        "What do you expect?",
            "choices": {
                "a": "The app refuses to start: one app cannot mix `async def` and `def` endpoints",
                "b": "The four /report requests run one after another (about 1.2 s): `def` endpoints share one thread",
                "c": "Both batches overlap and take about the time of one request: /chat's waits on the event "
                     "loop, /report's in four pool threads",
                "d": "/chat now blocks: once one endpoint is `def`, every endpoint must be made `def`",
            },
            "answer_hash": "20af0bdfe724b2b7268b3f9347847ff8766c6ce51f37c68b2e2dcc200aaefc70",
            "explanation": "Each endpoint picks its own kind: `async def` for code that awaits async libraries, "
                           "`def` for blocking ones. The 4 x /async-wait and 4 x /sync-wait measurement both "
                           "took about 0.3 s.",
        },
        {
            "id": "blocking-in-async",
            "question": "An `async def` endpoint calls `time.sleep(1)` (or `requests.get`). Four users call it at once. "
                        "What happens?",
            "choices": {
                "a": "FastAPI moves it to a thread, so all four finish after about 1 s",
                "b": "It blocks the event loop: the requests finish one after another (about 4 s), and every other "
                     "endpoint waits too",
                "c": "Only that endpoint is slowed; other endpoints answer as usual",
            },
            "answer_hash": "05f5ec03e3eb94915f9e6b1ee8051243e17694cf73cfaaa92acc0cecc27d746a",
            "explanation": "`async def` runs on the event loop itself; a blocking call holds the loop, so nothing "
                           "else runs until it returns. Use `def`, `await asyncio.to_thread(...)` or an async library.",
        },
        {
            "id": "shared-client",
            "question": "Where do you create the httpx.AsyncClient that every request of your app should share?",
            "choices": {
                "a": "Inside each endpoint, with `async with httpx.AsyncClient() as client:`",
                "b": "In the app's lifespan: create it before `yield`, keep it on `app.state`, close it after `yield`",
                "c": "In a dependency without `yield`, so FastAPI caches it between requests",
                "d": "At import time as a module global; it never needs closing",
            },
            "answer_hash": "5d6e9994a6bee1562e36ce5007ca7e65fda1bd4df31942f15709d52555ae9e15",
            "explanation": "The lifespan runs once per start of the app: one client (one connection pool) for all "
                           "requests, and a place after `yield` to close it at shutdown.",
        },
        {
            "id": "after-response",
            "question": "How do you run something (say, record token usage) after the response went to the user?",
            "choices": {
                "a": "Declare `background_tasks: BackgroundTasks` and call `background_tasks.add_task(record_usage, ...)`",
                "b": "Call `await record_usage(...)` just before `return`",
                "c": "Put it in a `finally:` block of the endpoint",
            },
            "answer_hash": "f5c5c201dbb39d22f893bd6b0753b8e64834d4f9516e4e31076bfc0b7bbfe50b",
            "explanation": "Tasks added to BackgroundTasks run after the response has been sent; code before "
                           "`return` or in `finally` still runs before it.",
        },
        {
            "id": "bg-limits",
            "item": "Limitations of background tasks",
            "question": "POST /chat answers 200 and adds a background task that writes the token usage to a "
                        "database. The database is down, so the task raises ConnectionError. What happens?",
            "choices": {
                "a": "The client gets a 500 instead of the 200",
                "b": "The client already has its 200; the error reaches only the server's log, and the usage "
                     "is lost: nothing retries the task",
                "c": "FastAPI retries the task until the database is back",
                "d": "The task waits in the broker until a worker can run it",
            },
            "answer_hash": "1d6187a6092ccb925e57a639d9a53670c3744a48952aa533f769a3adf98bdc58",
            "explanation": "A background task runs in the web process after the response: it has no retries, "
                           "no result the user can see and no broker keeping it. The flaky_task cell shows the "
                           "200 the user got while the task failed.",
        },
        {
            "id": "task-queue",
            "item": "When to use a task queue instead",
            "question": "Which job should go to a task queue (Celery, RQ, arq) rather than BackgroundTasks?",
            "choices": {
                "a": "Writing one log line after the response",
                "b": "Sending a welcome e-mail that may be lost if the server restarts",
                "c": "A 10-minute document import that must survive a restart, be retried on failure and report progress",
            },
            "answer_hash": "86ff5aee52fd51fac197a71ff136bcd433e7e936e6b37c4abb4007987af97207",
            "explanation": "BackgroundTasks run in the web process: lost on restart, no retries, no status. Long, "
                           "must-not-lose work needs a queue with its own workers.",
        },
    ],
)
