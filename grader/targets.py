"""The grader's targets: seven projects and twenty notebook sections."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


class TargetError(Exception):
    """The grader cannot run for this target (exit status 2)."""


@dataclass(frozen=True)
class Target:
    name: str  # project4, section2.1
    kind: str  # project | section
    rel_path: str  # below lessons/ or solutions/
    title: str
    criteria_path: Path | None = None  # tests point a target at criteria of their own
    needs_redis: bool = False  # the app gets REDIS_URL (DESIGN's storage rule)

    @property
    def criteria_module(self) -> str:
        package = "grader.criteria.sections." if self.kind == "section" else "grader.criteria."
        return package + self.name.replace(".", "_")

    @property
    def criteria_file(self) -> Path:
        if self.criteria_path is not None:
            return self.criteria_path
        folder = Path(__file__).parent / "criteria" / ("sections" if self.kind == "section" else "")
        return folder / (self.name.replace(".", "_") + ".py")

    @property
    def built(self) -> bool:
        """A target is available once its criteria module exists."""
        return self.criteria_file.is_file()


_PROJECTS = [
    ("01_fastapi_hello", "FastAPI Hello World (Dockerized)"),
    ("02_single_provider_chat", "Single Provider Chat API"),
    ("03_multi_provider_chat", "Multi-Provider Chat with LiteLLM"),
    ("04_streaming_chat", "Streaming Chat API"),
    ("05_production_chat", "Production-Ready Chat Backend"),
    ("06_chat_with_history", "Chat with Conversation History"),
    ("07_genai_backend_capstone", "Capstone - Complete GenAI Backend"),
]

_SECTIONS = [
    ("01_fastapi_fundamentals", "1.1_http_rest_basics", "HTTP & REST API Basics"),
    ("01_fastapi_fundamentals", "1.2_fastapi_core_concepts", "FastAPI Core Concepts"),
    ("01_fastapi_fundamentals", "1.3_pydantic_models", "Pydantic Models & Validation"),
    ("01_fastapi_fundamentals", "1.4_dependency_injection", "Dependency Injection"),
    ("02_async_programming", "2.1_python_async_fundamentals", "Python Async Fundamentals"),
    ("02_async_programming", "2.2_async_http_clients", "Async HTTP Clients (httpx)"),
    ("02_async_programming", "2.3_fastapi_async_patterns", "FastAPI Async Patterns"),
    ("03_llm_providers", "3.1_anthropic_sdk", "Anthropic Claude SDK"),
    ("03_llm_providers", "3.2_openai_sdk", "OpenAI SDK"),
    ("03_llm_providers", "3.3_litellm", "LiteLLM (Multi-Provider Abstraction)"),
    ("03_llm_providers", "3.4_openrouter", "OpenRouter Integration"),
    ("04_streaming", "4.1_sse_fundamentals", "Server-Sent Events (SSE) Fundamentals"),
    ("04_streaming", "4.2_llm_token_streaming", "Implementing LLM Token Streaming"),
    ("04_streaming", "4.3_websocket_basics", "WebSocket Basics"),
    ("05_production_patterns", "5.1_auth", "Authentication & Authorization"),
    ("05_production_patterns", "5.2_rate_limiting", "Rate Limiting"),
    ("05_production_patterns", "5.3_errors_and_retries", "Error Handling & Retries"),
    ("05_production_patterns", "5.4_logging_observability", "Logging & Observability"),
    ("06_docker", "6.1_docker_fundamentals", "Docker Fundamentals"),
    ("06_docker", "6.2_docker_compose", "Docker Compose for Multi-Service Apps"),
]

TARGETS: dict[str, Target] = {}
for _n, (_folder, _title) in enumerate(_PROJECTS, start=1):
    TARGETS[f"project{_n}"] = Target(
        f"project{_n}", "project", f"projects/{_folder}", _title, needs_redis=_n >= 5
    )
for _folder, _stem, _title in _SECTIONS:
    _id = _stem.split("_", 1)[0]
    TARGETS[f"section{_id}"] = Target(f"section{_id}", "section", f"{_folder}/{_stem}.ipynb", _title)


def get_target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise TargetError(
            f"unknown target {name!r}; try one of: project1 … project7, section1.1 … section6.2, all"
        ) from None


def course_root() -> Path:
    """The course checkout: $COURSE_ROOT, else the folder holding this package's tree, else cwd up."""
    env = os.environ.get("COURSE_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parents[1]
    if (here / "solutions").is_dir() or (here / "lessons").is_dir():
        return here
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "lessons").is_dir():
            return folder
    raise TargetError("cannot find the course folder (no lessons/ here or above); set COURSE_ROOT")


def resolve_path(target: Target, *, solutions: bool = False, path: str | Path | None = None) -> Path:
    """Where the graded copy lives: lessons/ by default, solutions/, or any folder given."""
    if path is None:
        base = course_root() / ("solutions" if solutions else "lessons")
        found = base / target.rel_path
        if not found.exists():
            raise TargetError(f"{target.name}: {found} does not exist")
        return found
    given = Path(path).expanduser().resolve()
    if not given.exists():
        raise TargetError(f"--path {path}: no such folder")
    # Accept the project folder itself, or a course/learner tree that contains it.
    leaf = Path(target.rel_path).name
    candidates = [given, given / target.rel_path, given / leaf, given / "lessons" / target.rel_path]
    for cand in candidates:
        if target.kind == "project" and (cand / "app").is_dir():
            return cand
        if target.kind == "section" and cand.is_file() and cand.suffix == ".ipynb":
            return cand
    if target.kind == "project":
        raise TargetError(
            f"--path {path}: no project found (expected an app/ folder in it or in {target.rel_path})"
        )
    raise TargetError(f"--path {path}: no notebook found for {target.name}")
