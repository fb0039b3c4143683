"""`grader coverage`: where each checklist item of syllabus.md is taught, and what checks it.

An item (a ``- [ ] ...`` line) belongs to the target whose ``##`` heading it sits under
(``## 1.2 ...`` -> section1.2, ``## Project 4: ...`` -> project4). Items are matched by their
text, normalised (case, backticks, punctuation, whitespace), never by hand-kept numbers.

- taught: a markdown heading of the section's notebook (solutions/) or of the project's README
  contains the item's text; or ``TAUGHT_AS`` names the heading that teaches it under other words.
- checked: a criterion (exercise, project criterion, project quiz) of the same target has the
  item's text as its ``item``; or a section quiz question names it as its ``item``.
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grader.criterion import criteria_in
from grader.targets import TARGETS, Target

SYLLABUS = "syllabus.md"

# Items a notebook or README teaches under a heading that is not the item's own words:
# (target, item text) -> that heading, in full (compared normalised).
# Each entry was checked against the cell under that heading.
TAUGHT_AS: dict[tuple[str, str], str] = {
    ("section1.1", "Can explain the difference between GET and POST"): "1. GET vs POST (and PUT, DELETE)",
    ("section1.1", "Can describe what a 401 vs 403 vs 404 error means"):
        "2. 401 vs 403 vs 404 (and the other status codes)",
    ("section1.1", "Can explain path parameters vs query parameters vs request body"):
        "3. Path parameters vs query parameters vs request body",
    ("section1.1", 'Can describe what makes an API "RESTful"'): '4. What makes an API "RESTful"',
    # Project READMEs are specifications: each item is taught by the part that specifies it.
    ("project1", 'FastAPI app with `/health` endpoint returning `{"status": "ok"}`'): "`GET /health`",
    ("project1", "`/echo` POST endpoint that returns the input message"): "`POST /echo`",
    ("project1", "Pydantic model for echo request/response"): "`POST /echo`",
    ("project1", "Dockerfile"): "Run it with Docker",
    ("project1", "docker-compose.yml"): "Run it with Docker",
    ("project1", "requirements.txt"): "What you write",
    ("project1", "README with run instructions"): "Run it without Docker",
    ("project1", "Can run `docker-compose up` and access `/docs`"): "Run it with Docker",
    ("project1", "Can make requests to both endpoints"): "Try the endpoints",
    ("project1", "Can explain what each line in Dockerfile does"): "Run it with Docker",
    ("project2", "`/v1/chat` POST endpoint"): "`POST /v1/chat`",
    ("project2", "ChatRequest model (message, max_tokens, temperature)"): "`POST /v1/chat`",
    ("project2", "ChatResponse model (content, usage, model)"): "`POST /v1/chat`",
    ("project2", "Anthropic SDK integration"): "Configuration",
    ("project2", "Environment variable for API key"): "Configuration",
    ("project2", "Error handling for API failures"): "Errors",
    ("project2", "Dockerfile with env var support"): "Run it with Docker",
    ("project2", "docker-compose.yml with .env file"): "Run it with Docker",
    ("project2", "Can send a message and get a response"): "Try it",
    ("project2", "Can explain the Anthropic message format"): "`POST /v1/chat`",
    ("project2", "Understands how API keys are passed to containers"): "Run it with Docker",
    ("project3", "LiteLLM Router configuration"): "Models",
    ("project3", "Support for Anthropic, OpenAI, OpenRouter"): "Models",
    ("project3", "Automatic fallback on failure"): "Fallbacks",
    ("project3", "`/v1/chat` endpoint using router"): "`POST /v1/chat`",
    ("project3", "Response includes which provider was used"): "`POST /v1/chat`",
    ("project3", "`/v1/models` endpoint listing available models"): "`GET /v1/models`",
    ("project3", "Environment variables for all API keys"): "Configuration",
    ("project3", "Can switch providers by changing model name"): "Try it",
    ("project3", "Fallback works when primary provider fails"): "Try it",
    ("project3", "Understands LiteLLM model naming convention"): "Models",
    ("project4", "`/v1/chat/stream` POST endpoint returning SSE"): "`POST /v1/chat/stream`",
    ("project4", "StreamingResponse with async generator"): "`POST /v1/chat/stream`",
    ("project4", "Proper SSE format (`data: {json}\\n\\n`)"): "Events",
    ("project4", "Stream completion event"): "Events",
    ("project4", "Error handling within stream"): "Events",
    ("project4", "Works with all configured providers"): "Configuration, models, fallbacks, errors",
    ("project4", "Simple HTML test page to visualize streaming"): "The test page",
    ("project4", "Can see tokens appear one by one"): "Test it with curl",
    ("project4", "Understands SSE message format"): "Events",
    ("project4", "Can test streaming with curl"): "Test it with curl",
    ("project4", "Knows difference between SSE and WebSocket"): "SSE or WebSocket?",
    ("project5", "All endpoints from previous projects"): "API",
    ("project5", "JWT authentication"): "Authentication (JWT)",
    ("project5", "Rate limiting (different tiers)"): "Rate limits (SlowAPI on Redis)",
    ("project5", "Retry logic with exponential backoff"): "Retries (tenacity)",
    ("project5", "Structured logging with request IDs"): "Logs and request ids (structlog)",
    ("project5", "`/health` and `/ready` endpoints"): "API",
    ("project5", "Proper error responses"): "API",
    ("project5", "Redis for rate limit storage"): "Rate limits (SlowAPI on Redis)",
    ("project5", "docker-compose with Redis service"): "Run it",
    ("project5", "Protected endpoints reject unauthenticated requests"): "Authentication (JWT)",
    ("project5", "Rate limits work correctly"): "Rate limits (SlowAPI on Redis)",
    ("project5", "Failed requests retry automatically"): "Retries (tenacity)",
    ("project5", "Can trace a request through logs"): "Logs and request ids (structlog)",
    ("project6", "Conversation storage (in-memory to start, then Redis)"): "Storage",
    ("project6", "`/v1/conversations` - create new conversation"): "`POST /v1/conversations`: start one",
    ("project6", "`/v1/conversations/{id}/messages` - add message to conversation"):
        "`POST /v1/conversations/{id}/messages`: talk",
    ("project6", "Full conversation context sent to LLM"): "`POST /v1/conversations/{id}/messages`: talk",
    ("project6", "Conversation listing and deletion"): "API",
    ("project6", "Token counting for context management"): "Token counting",
    ("project6", "Multi-turn conversations maintain context"): "`POST /v1/conversations/{id}/messages`: talk",
    ("project6", "Understands how conversation history affects tokens/cost"): "Token counting",
    ("project6", "Can implement basic memory management"): "Memory management: the token budget",
    ("project7", "Multi-provider support with LiteLLM"): "Multi-provider LLMs through LiteLLM",
    ("project7", "Both sync and streaming endpoints"): "Sync and streaming endpoints",
    ("project7", "Tiered rate limiting"): "Tiered rate limits",
    ("project7", "Conversation management"): "Conversations",
    ("project7", "Retry logic"): "Retries and fallbacks",
    ("project7", "Health checks"): "Health and readiness",
    ("project7", "Comprehensive README"): "Components",
    ("project7", "Can explain every component and why it exists"): "Components",
    ("project7", "Can debug issues using logs"): "Debugging with the logs",
    ("project7", "Can extend with new features"): "Extending it",
    ("project7", "Ready to build on this for RAG/agents"): "Extending it",
}

# A section quiz's own ``item`` summarises the section's questions instead of naming one item:
# those that start with this, and the ids listed here, need not be syllabus items.
QUIZ_SUMMARY_PREFIX = "After completing, you can answer:"
QUIZ_SUMMARIES = {"1.1.quiz"}


def normalise(text: str) -> str:
    """Lower case, no backticks or punctuation, single spaces."""
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\s]+", " ", text)
    return " ".join(text.split())


def slug(text: str) -> str:
    return normalise(text).replace(" ", "-")


@dataclass
class Item:
    target: str  # section1.2, project4
    group: str  # "1.2.1 Application Setup", "Components"
    text: str
    taught: list[str] = field(default_factory=list)  # "<file> § <heading>"
    checked: list[str] = field(default_factory=list)  # criterion / quiz question ids

    @property
    def id(self) -> str:
        """A stable id derived from the text: ``section1.2/setting-status-codes``."""
        return f"{self.target}/{slug(self.text)}"


_SECTION = re.compile(r"^## (\d\.\d) ")
_PROJECT = re.compile(r"^## Project (\d):")
_ITEM = re.compile(r"^- \[[ xX]\] (.+?)\s*$")


def parse_syllabus(path: Path) -> list[Item]:
    """Every checklist item of the syllabus, in its order, with the target it belongs to."""
    items: list[Item] = []
    target = group = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            target = group = ""
        elif m := _SECTION.match(line):
            target, group = f"section{m.group(1)}", ""
        elif m := _PROJECT.match(line):
            target, group = f"project{m.group(1)}", ""
        elif line.startswith("### "):
            group = line[4:].strip()
        elif line.startswith("**") and line.rstrip().endswith(":**"):
            group = line.strip().strip("*").rstrip(":")
        elif (m := _ITEM.match(line)) and target:
            items.append(Item(target=target, group=group, text=m.group(1)))
    return items


def _headings(path: Path) -> list[str]:
    """The markdown headings of a notebook's markdown cells, or of a markdown file."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        lines = [ln for c in cells if c["cell_type"] == "markdown" for ln in "".join(c["source"]).splitlines()]
    else:
        lines = path.read_text(encoding="utf-8").splitlines()
    heads, fenced = [], False
    for ln in lines:
        if ln.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", ln):
            heads.append(ln.lstrip("#").strip())
    return heads


def teaching_file(root: Path, tgt: Target) -> Path:
    base = root / "solutions" / tgt.rel_path
    return base if tgt.kind == "section" else base / "README.md"


def _checks(tgt: Target) -> list[tuple[str, str]]:
    """(id, item text) of everything that checks an item of ``tgt``."""
    if not tgt.built:
        return []
    module = importlib.import_module(tgt.criteria_module)
    found = [(c.id, c.item) for c in criteria_in(module)]
    # an exercise's ``also``: further items of its section that its check asserts too
    seen: set[str] = set()
    for value in vars(module).values():
        ex = getattr(value, "exercise", None)
        if ex is not None and getattr(ex, "id", None) not in seen and getattr(ex, "also", ()):
            seen.add(ex.id)
            found.extend((ex.id, text) for text in ex.also)
    # a quiz question that asks one item says so with its own "item"
    quiz = getattr(module, "_SECTION_QUIZ", None)
    for q in quiz.questions if quiz is not None else ():
        if q.get("item"):
            found.append((f"{quiz.id}/{q['id']}", q["item"]))
    return found


def is_quiz_summary(crit_id: str, item: str) -> bool:
    return crit_id in QUIZ_SUMMARIES or item.startswith(QUIZ_SUMMARY_PREFIX)


def coverage(root: Path) -> list[Item]:
    items = parse_syllabus(root / SYLLABUS)
    for name, tgt in TARGETS.items():
        mine = [i for i in items if i.target == name]
        where = teaching_file(root, tgt)
        heads = _headings(where) if where.is_file() else []
        label = where.relative_to(root).as_posix()
        checks = _checks(tgt)
        for item in mine:
            own, alias = normalise(item.text), normalise(TAUGHT_AS.get((name, item.text), ""))
            item.taught = [f"{label} § {h}" for h in heads if own in normalise(h) or alias == normalise(h)][:1]
            item.checked = [cid for cid, text in checks if normalise(text) == normalise(item.text)]
    return items


def unknown_checks(root: Path) -> list[str]:
    """Criteria, exercises and quizzes whose item is no checklist item of their target."""
    items = parse_syllabus(root / SYLLABUS)
    problems = []
    for name, tgt in TARGETS.items():
        known = {normalise(i.text) for i in items if i.target == name}
        for cid, text in _checks(tgt):
            if normalise(text) not in known and not is_quiz_summary(cid, text):
                problems.append(f"{name}: {cid} names {text!r}, which is not a checklist item of {name}")
    return problems


def totals(items: list[Item]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for name in TARGETS:
        mine = [i for i in items if i.target == name]
        out[name] = {"items": len(mine), "taught": sum(bool(i.taught) for i in mine),
                     "checked": sum(bool(i.checked) for i in mine)}
    return out


def _syllabus_order(items: list[Item]) -> list[str]:
    return list(dict.fromkeys(i.target for i in items))


def render(items: list[Item], fmt: str = "text") -> str:
    per = totals(items)
    all_t = sum(bool(i.taught) for i in items)
    all_c = sum(bool(i.checked) for i in items)
    if fmt == "json":
        return json.dumps({
            "items": len(items), "taught": all_t, "checked": all_c,
            "targets": {n: per[n] for n in _syllabus_order(items)},
            "checklist": [{"id": i.id, **asdict(i)} for i in items],
        }, indent=2, ensure_ascii=False)
    lines: list[str] = []
    md = fmt == "markdown"
    if md:
        lines += ["# Checklist coverage", "",
                  f"{all_t} of {len(items)} items taught, {all_c} of {len(items)} checked.", ""]
    for name in _syllabus_order(items):
        t = per[name]
        head = f"{name} {TARGETS[name].title}: {t['taught']}/{t['items']} taught, {t['checked']}/{t['items']} checked"
        lines += [f"## {head}", "", "| item | taught in | checked by |", "|---|---|---|"] if md else [head]
        for i in (i for i in items if i.target == name):
            taught = "; ".join(i.taught) or "NOT TAUGHT"
            checked = ", ".join(i.checked) or "not checked"
            if md:
                cell = i.text.replace("|", r"\|")
                lines.append(f"| {cell} | {taught} | {checked} |")
            else:
                lines.append(f"  - {i.text}\n      taught: {taught}\n      checked: {checked}")
        lines.append("")
    if not md:
        lines.append(f"total: {all_t} of {len(items)} items taught, {all_c} of {len(items)} checked")
    return "\n".join(lines).rstrip() + "\n"
