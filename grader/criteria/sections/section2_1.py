"""Section 2.1, Python Async Fundamentals: the notebook's exercise checks and quiz.

The learner's functions receive an ``ask(prompt)`` coroutine function from the check. Each
call is a real request to llmsim (grader.lesson.sim()) made slow, failing or hanging by a
fault for a model of this run's own, so the checks measure behaviour: wall time against the
sequential time of the same calls, calls in flight (counted here and read back from llmsim's
journal as overlapping start/end times), replies in input order, and requests left
``cancelled`` when a deadline passes. Requests carry a header of this run, so a shared
journal is read, never cleared.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from typing import Any

from grader.criterion import check
from grader.exercise import exercise, section_quiz

RUN_HEADER = "x-course-check-run"  # no "key"/"token" in the name: llmsim would redact it


def _sim() -> Any:
    from grader.lesson import sim

    return sim()


class _Asker:
    """``ask(prompt)`` for the learner: one llmsim request per call, each with its own fault."""

    def __init__(self, plan: dict[str, dict]):
        # prompt -> {"delay": s} (slow), {"status": 500} (fails), {"hang": True} (never answers)
        self.run = uuid.uuid4().hex[:12]
        self.plan = plan
        self.in_flight = 0
        self.max_in_flight = 0
        self.replies: dict[str, str] = {}
        self.errors: dict[str, BaseException] = {}
        self.client: Any = None  # one connection pool per run: a client per call costs CPU that a loaded machine lacks
        s = _sim()
        self.url = s.url
        for i, how in enumerate(plan.values()):
            model = self.model(i)
            if "delay" in how:
                s.add_fault(provider="anthropic", kind="slow", delay_s=how["delay"], model=model, times=1)
            elif "status" in how:
                s.add_fault(provider="anthropic", kind="http", status=how["status"], model=model, times=1)
            elif how.get("hang"):
                s.add_fault(provider="anthropic", kind="hang", delay_s=5, model=model, times=1)

    def model(self, i: int) -> str:
        return f"course-check-{self.run}-{i}"

    async def __call__(self, prompt: str) -> str:
        import httpx

        index = list(self.plan).index(prompt)  # an unknown prompt is the learner's error
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.client is None:
                self.client = httpx.AsyncClient(base_url=self.url, timeout=10)
            response = await self.client.post("/v1/messages", json={
                "model": self.model(index), "max_tokens": 30,
                "messages": [{"role": "user", "content": prompt}],
            }, headers={"x-api-key": "sk-llmsim-section2-check", "anthropic-version": "2023-06-01",
                        RUN_HEADER: self.run})
            response.raise_for_status()
            text = response.json()["content"][0]["text"]
            self.replies[prompt] = text
            return text
        except Exception as exc:
            self.errors[prompt] = exc
            raise
        finally:
            self.in_flight -= 1

    def entries(self, settle_s: float = 1.0) -> list[dict]:
        """This run's journal entries, once none is in flight (or ``settle_s`` has passed)."""
        deadline = time.monotonic() + settle_s
        while True:
            found = [e for e in _sim().requests(provider="anthropic")
                     if (e.get("headers") or {}).get(RUN_HEADER) == self.run]
            if all(e.get("ended_at") is not None for e in found) or time.monotonic() > deadline:
                return found
            time.sleep(0.02)


def _max_overlap(entries: list[dict], slack: float = 0.05) -> int:
    """The most requests llmsim was answering at one moment, from their start/end times.

    llmsim stamps ``ended_at`` a moment after the reply has left, so the next call a freed
    semaphore lets in can start "before" it: overlaps shorter than ``slack`` do not count.
    """
    edges = []
    for e in entries:
        edges.append((e["started_at"], 1))
        edges.append(((e.get("ended_at") or float("inf")) - slack, -1))
    most = now = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):  # an end before a start at a tie
        now += step
        most = max(most, now)
    return most


def _run(what: str, ask: _Asker, make: Any, after: Any = None) -> tuple[Any, float]:
    """Run the learner's coroutine on a fresh event loop; (result, seconds).

    ``after()`` (sync) runs in a worker thread once the learner's coroutine has returned but
    before the loop closes: asyncio.run cancels leftover tasks on the way out, so what the
    learner left running upstream is only visible before that.
    """
    took: list[float] = []

    async def main() -> Any:
        coro = make()
        check(inspect.isawaitable(coro), f"{what} returned {type(coro).__name__}, not a coroutine: define it with async def")
        try:
            started = time.perf_counter()
            result = await coro
            took.append(time.perf_counter() - started)
            if after is not None:
                await asyncio.to_thread(after)
            return result
        finally:
            if ask.client is not None:
                await ask.client.aclose()
                ask.client = None

    result = asyncio.run(main())
    return result, took[0]


# -- 2.1.background ------------------------------------------------------------------------

@exercise("2.1.background", "`asyncio.create_task()` for background tasks", uses=["start_all"],
          hint="return [asyncio.create_task(ask(p)) for p in prompts]: each task starts at once, and the "
               "caller awaits the tasks later.")
def background_exercise(start_all):
    check(callable(start_all), "start_all must be a function: async def start_all(ask, prompts)")
    delays = [0.8, 0.6, 0.7]  # long enough that all three overlap even on a loaded machine
    prompts = [f"Background question {i + 1}" for i in range(len(delays))]
    ask = _Asker({p: {"delay": d} for p, d in zip(prompts, delays, strict=True)})

    def all_started(settle_s: float = 3.0) -> int:
        """How many of this run's requests reached llmsim, waiting up to ``settle_s`` for all."""
        deadline = time.monotonic() + settle_s
        while True:
            found = [e for e in _sim().requests(provider="anthropic")
                     if (e.get("headers") or {}).get(RUN_HEADER) == ask.run]
            if len(found) >= len(prompts) or time.monotonic() > deadline:
                return len(found)
            time.sleep(0.02)

    async def main() -> None:
        coro = start_all(ask, prompts)
        check(inspect.isawaitable(coro),
              f"start_all(ask, prompts) returned {type(coro).__name__}, not a coroutine: define it with async def")
        tasks = await coro
        try:
            check(isinstance(tasks, list) and len(tasks) == len(prompts),
                  f"start_all returned {tasks!r:.80}; return a list with one task per prompt")
            kinds = sorted({type(t).__name__ for t in tasks if not isinstance(t, asyncio.Task)})
            check(not kinds, f"start_all returned {', '.join(kinds)} objects; return the asyncio.Task of each call "
                  "(asyncio.create_task(ask(prompt))), not a coroutine or a reply")
            done = sum(t.done() for t in tasks)
            check(done == 0, f"{done} of the {len(tasks)} calls had already finished when start_all returned; "
                  "start each one in the background and return at once, without awaiting them")
            # The caller does other work (here: waits in a thread) and awaits no task: the calls run anyway.
            started = await asyncio.to_thread(all_started)
            check(started == len(prompts),
                  f"only {started} of {len(prompts)} requests reached llmsim while the caller awaited no task; "
                  "asyncio.create_task schedules each call to run on its own")
            replies = await asyncio.gather(*tasks)
            check(list(replies) == [ask.replies.get(p) for p in prompts],
                  "awaiting task i must give the reply to prompts[i]; create the tasks in the order of the prompts")
            entries = ask.entries()
            check(len(entries) == len(prompts),
                  f"start_all sent {len(entries)} requests for {len(prompts)} prompts; call ask once per prompt")
            check(_max_overlap(entries) == len(prompts),
                  f"at most {_max_overlap(entries)} of the calls ran at once; start every task before any awaits")
        finally:
            for t in tasks if isinstance(tasks, list) else []:
                if inspect.iscoroutine(t):
                    t.close()  # a coroutine returned instead of a task: never awaited, closed quietly
                elif isinstance(t, asyncio.Task) and not t.done():
                    t.cancel()
            if ask.client is not None:
                await ask.client.aclose()
                ask.client = None

    asyncio.run(main())


# -- 2.1.ask_all ---------------------------------------------------------------------------

@exercise("2.1.ask_all", "`asyncio.gather()` for running multiple tasks",
          also=["Defining async functions with `async def`", "Calling async functions with `await`"],
          uses=["ask_all"],
          hint="Wrap each call in a helper that does `async with sem:` (sem = asyncio.Semaphore(limit) "
               "when a limit is given), then `return await asyncio.gather(*(one(p) for p in prompts))`.")
def ask_all_exercise(ask_all):
    check(callable(ask_all), "ask_all must be a function: async def ask_all(ask, prompts, *, limit=None)")

    # Three calls, the first the slowest: concurrent, and the replies in input order.
    delays = [0.6, 0.4, 0.2]
    prompts = [f"Question {i + 1}: how slow are you?" for i in range(len(delays))]
    ask = _Asker({p: {"delay": d} for p, d in zip(prompts, delays, strict=True)})
    replies, took = _run("ask_all(ask, prompts)", ask, lambda: ask_all(ask, prompts))
    sequential = sum(delays)
    check(len(ask.entries()) == len(prompts),
          f"ask_all sent {len(ask.entries())} requests for {len(prompts)} prompts; call ask(prompt) once per prompt")
    check(ask.max_in_flight == len(prompts) and _max_overlap(ask.entries()) == len(prompts),
          f"at most {ask.max_in_flight} call(s) were in flight at once; with no limit, start all "
          f"{len(prompts)} before awaiting any (asyncio.gather), not one await after another")
    # the overlap above is the proof of concurrency; the clock only has to beat one-after-another,
    # which leaves a loaded machine 0.6 s of slack
    check(took < sequential,
          f"ask_all took {took:.2f} s for calls of {' + '.join(f'{d}' for d in delays)} s; run concurrently it "
          f"needs about {max(delays)} s, under the {sequential:.2f} s of one after another")
    check(isinstance(replies, list), f"ask_all returned {type(replies).__name__}; return a list of the replies")
    want = [ask.replies.get(p) for p in prompts]
    check(replies == want,
          "the replies are not in the order of the prompts (reply i must answer prompts[i]; the first prompt "
          "was the slowest); asyncio.gather keeps the input order, asyncio.as_completed does not")

    # limit=2 with six calls: never more than two at once, and two at once all the time.
    prompts = [f"Limited question {i + 1}" for i in range(6)]
    ask = _Asker({p: {"delay": 0.2} for p in prompts})
    replies, took = _run("ask_all(ask, prompts, limit=2)", ask, lambda: ask_all(ask, prompts, limit=2))
    entries = ask.entries()
    check(len(entries) == len(prompts),
          f"ask_all(..., limit=2) sent {len(entries)} requests for {len(prompts)} prompts; call ask once per prompt")
    most = max(ask.max_in_flight, _max_overlap(entries))
    check(most <= 2, f"ask_all(..., limit=2) had {most} calls in flight at once; never more than 2 "
          "(acquire an asyncio.Semaphore(limit) around each call)")
    check(most == 2, f"ask_all(..., limit=2) had only {most} call in flight at a time; run up to 2 at once")
    check(replies == [ask.replies.get(p) for p in prompts],
          "with limit=2 the replies are not in the order of the prompts; return them in input order")

    # limit=1 is one at a time; an empty list needs no call.
    prompts = ["One at a time, A", "One at a time, B"]
    ask = _Asker({p: {"delay": 0.05} for p in prompts})
    replies, _ = _run("ask_all(ask, prompts, limit=1)", ask, lambda: ask_all(ask, prompts, limit=1))
    most = max(ask.max_in_flight, _max_overlap(ask.entries()))
    check(most == 1, f"ask_all(..., limit=1) had {most} calls in flight at once; limit=1 means one at a time")
    check(replies == [ask.replies.get(p) for p in prompts], "with limit=1 the replies must be in input order")
    empty, _ = _run("ask_all(ask, [])", ask, lambda: ask_all(ask, []))
    check(empty == [], f"ask_all(ask, []) returned {empty!r}; return []")


# -- 2.1.ask_each --------------------------------------------------------------------------

@exercise("2.1.ask_each", "Handling exceptions in concurrent operations",
          uses=["ask_each"],
          hint="Give each call its own `async with asyncio.timeout(seconds):` and gather them with "
               "return_exceptions=True, so a failure or a timeout becomes that item and nothing else is lost.")
def ask_each_exercise(ask_each):
    import httpx

    check(callable(ask_each), "ask_each must be a function: async def ask_each(ask, prompts, *, seconds)")

    # ok, fails (500), ok, hangs: two replies, the error, a TimeoutError; nothing waits for the hang.
    prompts = ["Fine question", "This one fails", "Another fine one", "This one hangs"]
    ask = _Asker({prompts[0]: {"delay": 0.1}, prompts[1]: {"status": 500},
                  prompts[2]: {"delay": 0.2}, prompts[3]: {"hang": True}})
    hung: list[dict] = []

    def hang_entry() -> None:  # the hanging request, 0.3 s after ask_each returned
        time.sleep(0.3)
        hung.extend(e for e in ask.entries(settle_s=0) if e.get("model") == ask.model(3))

    try:
        # 1 s for calls of 0.1 and 0.2 s: on time even on a loaded machine
        results, took = _run("ask_each(ask, prompts, seconds=1)", ask, lambda: ask_each(ask, prompts, seconds=1),
                             after=hang_entry)
    except TimeoutError:
        check(False, "ask_each raised TimeoutError; the call that timed out must give a TimeoutError in its place, "
              "and the other results must still be returned")
    except httpx.HTTPStatusError:
        check(False, "ask_each raised the failing call's error, losing the other replies; return each "
              "exception in its place instead (gather(..., return_exceptions=True))")
    check(took < 3.0, f"ask_each took {took:.2f} s with seconds=1; give up on a call once its time is up")
    check(isinstance(results, list) and len(results) == len(prompts),
          f"ask_each returned {results!r:.80}; return a list with one item per prompt")
    for i in (0, 2):
        check(results[i] == ask.replies.get(prompts[i]),
              f"item {i} is {results[i]!r:.60}; it must be the reply to prompts[{i}], in input order")
    failed = ask.errors.get(prompts[1])
    check(results[1] is failed and failed is not None,
          f"item 1 is {results[1]!r:.60}; it must be the exception that call raised (here an httpx.HTTPStatusError), "
          "not None or a message")
    check(isinstance(results[3], TimeoutError),
          f"item 3 is {results[3]!r:.60}; the call that ran past the deadline must give a TimeoutError")
    check(hung and hung[0].get("outcome") == "cancelled",
          "the call that timed out was still running upstream afterwards; cancel it when its time is up "
          "(asyncio.timeout or asyncio.wait_for cancel it, asyncio.wait(timeout=…) does not)")

    # Every call on time: plain replies, in order.
    prompts = ["Quick A", "Quick B"]
    ask = _Asker({p: {"delay": 0.05} for p in prompts})
    results, _ = _run("ask_each(ask, prompts, seconds=2)", ask, lambda: ask_each(ask, prompts, seconds=2))
    check(results == [ask.replies.get(p) for p in prompts],
          f"with every call on time ask_each returned {results!r:.80}; return the replies, in input order")


QUIZ = section_quiz(
    "2.1",
    item="After completing, you can answer: When should I use `async def` vs regular `def` in FastAPI? "
         "How do I call multiple LLM APIs at the same time? "
         "Why is async good for API calls but not for math calculations?",
    questions=[
        {
            "id": "async-def-or-def",
            "question": "Your endpoint calls an LLM with a library that only has a blocking (sync) client. "
                        "How should you declare it in FastAPI?",
            "choices": {
                "a": "`async def`, and call the blocking client directly: async makes it non-blocking",
                "b": "plain `def` (FastAPI runs it in a worker thread), or `async def` with the call wrapped "
                     "in `await asyncio.to_thread(...)`",
                "c": "`async def` with `time.sleep(0)` before the call so other requests get a turn",
                "d": "it makes no difference: FastAPI runs every endpoint in its own process",
            },
            "answer_hash": "c062112782707ae99147f70df4a01883f17f1a9507d25fe5acbd38e218520185",
            "explanation": "A blocking call inside `async def` stops the event loop, so every other request "
                           "waits. Use `async def` when everything you wait on is awaitable (httpx.AsyncClient, "
                           "AsyncAnthropic); otherwise `def` (FastAPI's thread pool) or asyncio.to_thread.",
        },
        {
            "id": "many-llm-calls",
            "question": "You must ask three LLM providers the same question and use all three answers. "
                        "Which code finishes in about the time of the slowest call?",
            "choices": {
                "a": "`for p in providers: answers.append(await ask(p))`",
                "b": "`answers = [ask(p) for p in providers]` without await",
                "c": "`answers = await asyncio.gather(*(ask(p) for p in providers))`",
                "d": "`answers = [asyncio.run(ask(p)) for p in providers]`",
            },
            "answer_hash": "66eabb15a6c48488d23c7d4598028e683e8bcbaab5deea780bafcf563df9c2a1",
            "explanation": "gather starts every coroutine before waiting, so the waits overlap, and it returns "
                           "the results in the order given. A loop of awaits waits for each call in turn; "
                           "without await you only get coroutine objects; asyncio.run cannot run inside a loop.",
        },
        {
            "id": "cpu-bound",
            "question": "Why does `asyncio.gather` speed up three API calls but not three big math calculations?",
            "choices": {
                "a": "an API call spends its time waiting for the network, and the event loop runs other "
                     "tasks meanwhile; a calculation keeps the one thread busy, so the tasks just take turns",
                "b": "asyncio runs API calls on several CPU cores but math on only one",
                "c": "math functions cannot be written with async def",
                "d": "it does speed up math, by the number of tasks",
            },
            "answer_hash": "d398b4dcbc1cc4ebedbb6134dc1f98ac335534ef4a51b544c073bf99190161cb",
            "item": "When async helps vs when it doesn't",
            "explanation": "Async is concurrency, not parallelism: one thread switches between tasks at each "
                           "await. Waiting overlaps; computing does not (for that: processes, or a library "
                           "that releases the GIL).",
        },
        {
            "id": "blocking-io",
            "question": "A plain `def` function makes three blocking HTTP calls to a provider, one after "
                        "another; each answer takes 0.3 s to come back. About how long does the function take, "
                        "and what is the CPU doing most of that time?",
            "choices": {
                "a": "about 0.3 s: the operating system overlaps the three blocking calls by itself",
                "b": "about 0.9 s, busy: encoding and decoding the requests is what takes the time",
                "c": "about 0.9 s, mostly idle: the thread is parked until each answer arrives and can "
                     "start nothing else meanwhile",
                "d": "about 0.1 s: each call only needs a third of the CPU",
            },
            "answer_hash": "9f10f9ed9ae2b31750a8993089adf8f41ddbcff7a4ec11e6896fe4207e58b7e5",
            "explanation": "A blocking call hands the request to the network and parks the thread until the "
                           "reply is there. The CPU has nothing to do, but the thread cannot start the next "
                           "call, so the waits add up: 3 x 0.3 s.",
            "item": "What is blocking I/O and why it's slow",
        },
        {
            "id": "one-thread",
            "question": "`await asyncio.gather(...)` runs three LLM calls of 0.3 s each in about 0.3 s in "
                        "total. What made that possible?",
            "choices": {
                "a": "asyncio started one thread per call and ran them on three CPU cores",
                "b": "asyncio ran each call in a process of its own",
                "c": "the provider answers faster when requests arrive together",
                "d": "one thread: each task gave the thread back at `await` while its request waited, so "
                     "the three waits overlapped",
            },
            "answer_hash": "e95b28f645f25ec6f920a05b099a4fd2fd290a5e0b817618b381f30cb8ab538b",
            "explanation": "That is concurrency, not parallelism: a single thread runs one piece of Python at "
                           "a time and switches tasks at each await. The calls are in progress together; "
                           "only their waiting overlaps.",
            "item": "How async enables concurrency (not parallelism)",
        },
        {
            "id": "event-loop-blocked",
            "question": "In one event loop a heartbeat task runs `await asyncio.sleep(0.05)` in a loop. "
                        "Another task then calls `time.sleep(0.3)` (a plain, blocking call). What happens "
                        "to the heartbeat?",
            "choices": {
                "a": "it misses its ticks for about 0.3 s: the loop only switches tasks at an await, and "
                     "time.sleep holds the one thread the loop runs on",
                "b": "it keeps ticking every 50 ms, because the event loop runs its tasks in parallel",
                "c": "it is cancelled with a TimeoutError",
                "d": "nothing: inside async code time.sleep is turned into asyncio.sleep",
            },
            "answer_hash": "811b3c05953f52c73399d59dbde543d3372bc887172c6c8cc47cabddfb3819ce",
            "explanation": "The event loop runs a ready task until it awaits something not ready, then picks "
                           "the next ready one. A call that blocks without awaiting never hands control back, "
                           "so every other task waits until it returns.",
            "item": "The event loop concept",
        },
        {
            "id": "await-in-def",
            "question": "You write `def summarize(text): return await ask(text)` (ask is an async function) "
                        "and Python reports a SyntaxError before any code runs. Why?",
            "choices": {
                "a": "`ask` must be a plain function too: await only works on regular functions",
                "b": "`await` pauses the function so the loop can run other work, and resumes it later; "
                     "only an `async def` function can be paused like that, so a plain def may not contain it",
                "c": "no event loop was running when the file was loaded",
                "d": "await may only be written at the top level of a module or notebook cell",
            },
            "answer_hash": "def86a43c74230be6760ef2c608fe942379236e4517565b9d0e4a06f765b8834",
            "explanation": "`async def` compiles to a coroutine that can stop at each await and be resumed; a "
                           "plain function runs to its end in one go. So `await` is a compile-time error "
                           "there; from sync code you start a loop instead (asyncio.run).",
            "item": "Why you can't call `await` in regular functions",
        },
    ],
    hint="Async overlaps waiting, not computing; gather starts everything before waiting; blocking calls "
         "belong in def endpoints or asyncio.to_thread.",
)
