"""The notebook toolkit: the one import line at the top of every lesson.

    from grader.lesson import serve, sim, check, quiz

- ``serve(app)``: the app on a free port in a background thread, with a /docs link that
  works inside JupyterLab; running the cell again replaces it.
- ``sim()``: the LLM provider simulator (llmsim) this kernel talks to: faults and the journal.
- ``check("1.3.validators", ChatRequest)``: the exercise's hidden checks, run right here
  against the live objects: ✓, or ✗ with the reason and a hint.
- ``quiz("1.2", answers)``: the section's questions, and for each answered one ✓/✗ and why.

Nothing here raises into the notebook except ``serve()`` when an app cannot start. Whatever
is started is stopped when the kernel exits.
"""

from __future__ import annotations

import atexit
import html
import os
import socket
import threading
import time
from typing import Any

from grader import exercise as _exercise

# Set by ``grader check sectionX.Y`` in the kernel it grades in: check() then leaves the
# work to the grading cell (which recomputes every result), so grading stays quick.
GRADING_ENV = "GRADER_GRADING"
# section ("1.2") -> the answers quiz() last saw; the grading cell reads them.
QUIZ_ANSWERS: dict[str, dict] = {}


def _grading() -> bool:
    return os.environ.get(GRADING_ENV) == "1"


# -- serve: embedded apps -------------------------------------------------------------------

_APPS: dict[str, EmbeddedApp] = {}
STOP_TIMEOUT_S = 3.0


def proxy_prefix(port: int) -> str:
    """The path an app on ``port`` has in the learner's browser under JupyterLab, or "".

    ``make lab`` and the image set LAB_PROXY_BASE ("/proxy/"); under JupyterHub the server's
    own prefix is used. Outside JupyterLab (nbclient, a plain Python) it is "".
    """
    base = os.environ.get("LAB_PROXY_BASE")
    if not base and os.environ.get("JUPYTERHUB_SERVICE_PREFIX"):
        base = os.environ["JUPYTERHUB_SERVICE_PREFIX"].rstrip("/") + "/proxy/"
    return f"{base.rstrip('/')}/{port}" if base else ""


def _offline_docs(app: Any) -> Any:
    """/docs and /redoc with their assets served locally, once grader.offline_docs exists."""
    try:
        from grader.offline_docs import with_offline_docs
    except ImportError:
        return app
    return with_offline_docs(app)


class EmbeddedApp:
    """An ASGI app served by uvicorn in a background thread of the kernel."""

    def __init__(self, name: str, server: Any, thread: threading.Thread, host: str, port: int, prefix: str):
        self.name, self.server, self.thread = name, server, thread
        self.host, self.port, self.prefix = host, port, prefix

    @property
    def url(self) -> str:
        """Where code in the notebook reaches the app (httpx, requests)."""
        return f"http://{self.host}:{self.port}"

    @property
    def browser_url(self) -> str:
        """Where the learner's browser reaches it: through JupyterLab's proxy when under it."""
        return self.prefix or self.url

    @property
    def docs_url(self) -> str:
        return self.browser_url + "/docs"

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():  # a request that never ends: stop waiting for it
            self.server.force_exit = True
            self.thread.join(1.0)
        if _APPS.get(self.name) is self:
            del _APPS[self.name]

    def __repr__(self) -> str:
        return f"<{self.name} running at {self.url}; docs: {self.docs_url}>"

    def _repr_html_(self) -> str:
        return (
            f"<b>{html.escape(self.name)}</b> is running at <code>{html.escape(self.url)}</code> — "
            f'<a href="{html.escape(self.docs_url)}" target="_blank">open its /docs</a>'
        )


def serve(app: Any, *, name: str = "app", port: int | None = None, host: str = "127.0.0.1",
          log_level: str = "warning", timeout: float = 10.0) -> EmbeddedApp:
    """Start ``app`` with uvicorn in a background thread; running it again replaces it.

    Under JupyterLab the learner's browser reaches the app through jupyter-server-proxy at
    ``/proxy/PORT/``, which strips that prefix before forwarding. FastAPI's /docs page loads
    ``{root_path}/openapi.json``, so the app is started with uvicorn's ``root_path`` set to the
    prefix: ``/proxy/PORT/docs`` then loads ``/proxy/PORT/openapi.json``, and the schema's
    ``servers`` entry makes "Try it out" call through the proxy too. Requests from the kernel
    to ``app.url`` still work (Starlette strips the root path when routing). Outside
    JupyterLab no root path is set.
    """
    import uvicorn

    old = _APPS.pop(name, None)
    if old is not None:
        port = port or old.port
        old.stop()
    # Bind here, so a busy port is a clear error and a free one cannot be taken meanwhile.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port or 0))
    except OSError as exc:
        sock.close()
        raise RuntimeError(f"{name} cannot listen on {host}:{port}: {exc.strerror} (is another app on it?)") from None
    port = sock.getsockname()[1]
    prefix = proxy_prefix(port)
    config = uvicorn.Config(_offline_docs(app), host=host, port=port, root_path=prefix, log_level=log_level,
                            timeout_graceful_shutdown=1)  # a re-run cell or kernel exit never waits long
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def run_server() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported by serve(), not as a thread traceback
            failure.append(exc)
        finally:
            sock.close()

    thread = threading.Thread(target=run_server, name=f"uvicorn-{name}-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            why = f": {failure[0]!r}" if failure else ""
            raise RuntimeError(f"{name} did not start on {host}:{port}{why} (see the log above)")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"{name} did not start on {host}:{port} within {timeout:.0f} s")
        time.sleep(0.02)
    embedded = EmbeddedApp(name, server, thread, host, port, prefix)
    _APPS[name] = embedded
    return embedded


def stop_all() -> None:
    for embedded in list(_APPS.values()):
        embedded.stop(timeout=1.0)


# -- sim: the provider simulator ------------------------------------------------------------

_SIM: dict[str, Any] = {}  # "client": the Sim; "private": a Simulator this kernel started


def _sim_class():
    from llmsim import SimClient

    class Sim(SimClient):
        """llmsim's control API: ``add_fault(...)``, ``clear_faults()``, ``requests(...)``,
        ``wait_for(...)``, ``clear_requests()``, ``reset()``, ``config(...)``."""

        private: bool = False

        def last_request(self, **filters) -> dict | None:
            """The newest journal entry (matching ``filters``), or None."""
            entries = self.requests(**filters)
            return entries[-1] if entries else None

        def __repr__(self) -> str:
            whose = "started for this notebook" if self.private else "the lab's"
            return f"<llmsim at {self.url} ({whose})>"

    return Sim


def _point_sdks_at(url: str) -> None:
    """Point this kernel's SDKs at ``url`` where nothing else is configured (a real key wins)."""
    from grader.lab import PROVIDERS, is_real_key

    for name, (key_var, url_var, suffix) in PROVIDERS.items():
        if is_real_key(os.environ.get(key_var)):
            continue
        os.environ.setdefault(key_var, f"sk-llmsim-{name}-offline")
        os.environ.setdefault(url_var, url + suffix)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no tokenizer downloads: see grader.lab


def sim(*, reset: bool = False) -> Any:
    """The llmsim this kernel's SDKs talk to: the lab's (LLMSIM_URL), else one started now.

    ``sim().add_fault(provider="anthropic", status=529, times=1)`` makes the next request
    fail; ``sim().requests()`` is the journal of what reached it. ``reset=True`` clears
    faults and journal first (the lab's llmsim is shared by all your notebooks).
    """
    client = _SIM.get("client")
    if client is None:
        Sim = _sim_class()
        url = (os.environ.get("LLMSIM_URL") or "").rstrip("/")
        if url:
            client = Sim(url)
        else:
            import llmsim

            private = llmsim.Simulator(host="127.0.0.1", port=0).start()
            _SIM["private"] = private
            url = private.url.rstrip("/")
            os.environ["LLMSIM_URL"] = url
            _point_sdks_at(url)
            client = Sim(url)
            client.private = True
        _SIM["client"] = client
    if reset:
        client.reset()
    return client


def _stop_sim() -> None:
    client = _SIM.pop("client", None)
    if client is not None:
        client.close()
    private = _SIM.pop("private", None)
    if private is not None:
        private.stop(timeout=1.0)


# -- check: an exercise's hidden checks -------------------------------------------------------

_STYLE = "font-family: var(--jp-content-font-family, sans-serif); padding: 4px 0;"


class CheckResult:
    """What ``check()`` shows: ✓, or ✗ with the reason and a hint."""

    def __init__(self, exercise_id: str, status: str, message: str = "", hint: str = "", item: str = ""):
        self.id, self.status, self.message, self.hint, self.item = exercise_id, status, message, hint, item

    @property
    def ok(self) -> bool:
        return self.status == "pass"

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        if self.status == "pass":
            return f"✓ {self.id}: {self.item}" if self.item else f"✓ {self.id}"
        if self.status in ("skipped", "skip"):
            return f"· {self.id}: {self.message}"
        lines = [f"✗ {self.id}: {self.message}"]
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        if self.status == "pass":
            item = f" — {e(self.item)}" if self.item else ""
            return f'<div style="{_STYLE}"><span style="color:#1a7f37">✓</span> <b>{e(self.id)}</b>{item}</div>'
        if self.status in ("skipped", "skip"):
            return f'<div style="{_STYLE}">· <b>{e(self.id)}</b>: {e(self.message)}</div>'
        hint = f'<div style="margin-left:1.4em;color:#555">hint: {e(self.hint)}</div>' if self.hint else ""
        return (f'<div style="{_STYLE}"><span style="color:#cf222e">✗</span> <b>{e(self.id)}</b>: '
                f"{e(self.message)}{hint}</div>")


def check(exercise_id: str, *objects: Any, timeout: float | None = None) -> CheckResult:
    """Run the hidden checks of ``exercise_id`` on your objects (in the order the exercise
    names them); shows ✓ or ✗ with the reason. Never raises."""
    try:
        ex = _exercise.find_exercise(exercise_id)
    except _exercise.UnknownExercise as exc:
        return CheckResult(str(exercise_id), "error", str(exc))
    except Exception as exc:  # noqa: BLE001 - a broken section module is the course's bug, said in one line
        return CheckResult(str(exercise_id), "error", f"the checks of this exercise could not be loaded: "
                           f"{type(exc).__name__}: {exc}")
    if len(objects) != len(ex.uses):
        want = ", ".join(ex.uses) or "nothing"
        return CheckResult(ex.id, "error", f"check({ex.id!r}, …) takes {want} ({len(ex.uses)} "
                           f"object{'s' if len(ex.uses) != 1 else ''}), got {len(objects)}", item=ex.item)
    if _grading():
        return CheckResult(ex.id, "skipped", "checked by `grader check` after the notebook ran", item=ex.item)
    out = _exercise.run_exercise(ex, objects, timeout)
    return CheckResult(ex.id, out.status, out.message, "" if out.ok else ex.hint, ex.item)


# -- quiz --------------------------------------------------------------------------------------


class QuizView:
    """What ``quiz()`` shows: every question, and ✓/✗ with the explanation for answered ones."""

    def __init__(self, section: str, quiz: Any = None, outcome: Any = None, error: str = ""):
        self.section, self.quiz, self.outcome, self.error = section, quiz, outcome, error

    @property
    def ok(self) -> bool:
        return bool(self.outcome and self.outcome.ok)

    def _mark(self, qid: str) -> str:
        o = self.outcome
        if qid in o.right:
            return "✓"
        if qid in o.wrong or qid in o.invalid:
            return "✗"
        return "·"

    def _summary(self) -> str:
        o = self.outcome
        text = f"{len(o.right)} of {o.total} right"
        if o.unanswered:
            text += f", {len(o.unanswered)} unanswered"
        if o.unknown:
            text += f" (not questions of this quiz: {', '.join(o.unknown)})"
        return text

    def __repr__(self) -> str:
        if self.error:
            return f"✗ quiz {self.section}: {self.error}"
        lines = [f"Quiz {self.quiz.section}: {self._summary()}"]
        for q in self.quiz.questions:
            qid = q["id"]
            lines.append(f"{self._mark(qid)} [{qid}] {q['question']}")
            for letter, text in q["choices"].items():
                lines.append(f"      {letter}) {text}")
            lines.append(self._verdict_text(q))
        return "\n".join(lines)

    def _verdict_text(self, q: dict) -> str:
        o, qid = self.outcome, q["id"]
        if qid in o.unanswered:
            return "    unanswered"
        if qid in o.invalid:
            return f"    {o.given[qid]!r} is not one of the choices"
        verdict = "right" if qid in o.right else f"not {o.given[qid]}"
        why = q.get("explanation") or ""
        return f"    {verdict}" + (f": {why}" if why else "")

    def _repr_html_(self) -> str:
        e = html.escape
        if self.error:
            return f'<div style="{_STYLE}"><span style="color:#cf222e">✗</span> quiz {e(self.section)}: {e(self.error)}</div>'
        colors = {"✓": "#1a7f37", "✗": "#cf222e", "·": "#888"}
        parts = [f'<div style="{_STYLE}"><b>Quiz {e(self.quiz.section)}</b>: {e(self._summary())}<ol>']
        for q in self.quiz.questions:
            mark = self._mark(q["id"])
            choices = "".join(f"<li><code>{e(k)}</code> {e(v)}</li>" for k, v in q["choices"].items())
            parts.append(
                f'<li style="margin-bottom:.6em"><span style="color:{colors[mark]}">{mark}</span> '
                f'{e(q["question"])} <small style="color:#888">({e(q["id"])})</small>'
                f'<ul style="list-style:none;padding-left:1em">{choices}</ul>'
                f'<div style="margin-left:1em;color:#555">{e(self._verdict_text(q).strip())}</div></li>'
            )
        parts.append("</ol></div>")
        return "".join(parts)


def quiz(section: str, answers: dict | None = None) -> QuizView:
    """Show the quiz of ``section``; ``answers`` maps question id -> letter (None: not yet)."""
    try:
        key = _exercise.section_key(section)
        q = _exercise.find_quiz(key)
    except _exercise.UnknownExercise as exc:
        return QuizView(str(section), error=str(exc))
    except Exception as exc:  # noqa: BLE001
        return QuizView(str(section), error=f"the quiz could not be loaded: {type(exc).__name__}: {exc}")
    if answers is not None and not isinstance(answers, dict):
        return QuizView(key, error="answers must be a dict: {\"question-id\": \"b\", …}")
    QUIZ_ANSWERS[key] = dict(answers or {})
    return QuizView(key, q, q.grade(answers or {}))


# -- kernel exit ---------------------------------------------------------------------------------


def _at_exit() -> None:
    try:
        stop_all()
    finally:
        _stop_sim()


atexit.register(_at_exit)
