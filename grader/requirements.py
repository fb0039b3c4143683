"""Each project README as requirements, and the criteria that check each one.

``grader/data/requirements/<project>.toml`` quotes every normative statement of the project's
README (an endpoint, field, default, status, header, event, order, limit, error rule or
configuration rule) under a stable id, and names the criteria that check it. Statements
that state no rule (how to run the app, what a file is for) are quoted under
``informative``, and whole sections of that kind are named under ``informative_sections``.

The suite (tests/grader/test_requirements.py) fails when a sentence, bullet or table row of
the README is quoted by neither, when a quote is no longer in the README, when a requirement
names no criterion or an unknown one, and when a criterion checks no requirement.

``python -m grader.requirements project4`` prints the trace as a Markdown table.
"""

from __future__ import annotations

import importlib
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from grader.criterion import criteria_in
from grader.targets import TARGETS, course_root

REQUIREMENTS_DIR = Path(__file__).parent / "data" / "requirements"
_RULE_ROW = re.compile(r"\|(\s*:?-{3,}:?\s*\|)+")
_BULLET = re.compile(r"^([-*+]|\d+\.)\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[A-Z`(*\"])")


@dataclass(frozen=True)
class Requirement:
    id: str
    quote: str
    criteria: tuple[str, ...]
    note: str = ""


@dataclass
class Trace:
    target: str
    readme: Path
    requirements: list[Requirement]
    informative: list[str] = field(default_factory=list)
    informative_sections: list[str] = field(default_factory=list)


def normalize(text: str) -> str:
    """Compare prose, not layout: one space for any run of whitespace, no bold markers."""
    text = text.replace("**", "").replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text).strip()


def readme_of(target: str, root: Path | None = None) -> Path:
    return (root or course_root()) / "solutions" / TARGETS[target].rel_path / "README.md"


def load(target: str, root: Path | None = None) -> Trace:
    data = tomllib.loads((REQUIREMENTS_DIR / f"{target}.toml").read_text(encoding="utf-8"))
    reqs = [
        Requirement(r["id"], r["quote"], tuple(r.get("criteria", ())), r.get("note", ""))
        for r in data.get("requirement", [])
    ]
    return Trace(
        target,
        readme_of(target, root),
        reqs,
        list(data.get("informative", [])),
        list(data.get("informative_sections", [])),
    )


def statements(readme_text: str, skip_sections: tuple[str, ...] = ()) -> list[str]:
    """Every sentence, bullet item and table row of the README outside code blocks and
    outside the sections named in ``skip_sections`` (with their subsections).

    A table's header row names its columns and states nothing, so it is left out.
    """
    found: list[str] = []
    paragraph: list[str] = []
    in_code = False
    skipping_level = 0  # > 0: inside a skipped section of that heading level
    skip = {normalize(s).lower() for s in skip_sections}
    lines = readme_text.splitlines()

    def flush() -> None:
        if paragraph and not skipping_level:
            found.extend(s for s in _SENTENCE_END.split(normalize(" ".join(paragraph))) if s)
        paragraph.clear()

    for i, raw in enumerate(lines):
        line = raw.strip()
        if line.startswith("```"):
            flush()
            in_code = not in_code
            continue
        if in_code:
            continue
        heading = re.match(r"^(#+)\s+(.*)", line)
        if heading:
            flush()
            level = len(heading.group(1))
            if skipping_level and level <= skipping_level:
                skipping_level = 0
            if not skipping_level and normalize(heading.group(2)).lower() in skip:
                skipping_level = level
            continue
        if line.startswith("|"):
            flush()
            following = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if not (_RULE_ROW.fullmatch(line) or _RULE_ROW.fullmatch(following) or skipping_level):
                found.append(normalize(line))
        elif _BULLET.match(line):
            flush()
            paragraph.append(_BULLET.sub("", line))
        elif not line:
            flush()
        else:
            paragraph.append(line)
    flush()
    return found


def covers(quote: str, statement: str) -> bool:
    """A quote covers a statement when one holds the other."""
    q, s = normalize(quote), normalize(statement)
    return bool(q) and (q in s or s in q)


def problems(target: str, root: Path | None = None) -> list[str]:
    """Everything wrong with one project's trace; empty when it is complete."""
    trace = load(target, root)
    text = trace.readme.read_text(encoding="utf-8")
    flat = normalize(text)
    known = {c.id for c in criteria_in(importlib.import_module(TARGETS[target].criteria_module))}
    out: list[str] = []
    seen: set[str] = set()
    for req in trace.requirements:
        if req.id in seen:
            out.append(f"{req.id}: the id is used twice")
        seen.add(req.id)
        if normalize(req.quote) not in flat:
            out.append(f"{req.id}: the README no longer says {req.quote!r}")
        if not req.criteria:
            out.append(f"{req.id}: no criterion checks {req.quote!r}")
        for cid in req.criteria:
            if cid not in known:
                out.append(f"{req.id}: names {cid!r}, which is not a criterion of {target}")
    for quote in trace.informative:
        if normalize(quote) not in flat:
            out.append(f"informative: the README no longer says {quote!r}")
    checked = {cid for r in trace.requirements for cid in r.criteria}
    for cid in sorted(known - checked):
        out.append(f"{cid}: checks no requirement of the README")
    quotes = [r.quote for r in trace.requirements] + trace.informative
    for statement in statements(text, tuple(trace.informative_sections)):
        if not any(covers(q, statement) for q in quotes):
            out.append(f"quoted by no requirement (nor as informative): {statement!r}")
    return out


def markdown(target: str) -> str:
    trace = load(target)
    rows = [
        f"## {target}: {len(trace.requirements)} requirements",
        "",
        "| id | the README says | checked by |",
        "|---|---|---|",
    ]
    for r in trace.requirements:
        quote = normalize(r.quote).replace("|", "\\|")
        rows.append(f"| `{r.id}` | {quote} | {', '.join(f'`{c}`' for c in r.criteria)} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or [
        n for n in TARGETS if (REQUIREMENTS_DIR / f"{n}.toml").is_file()
    ]
    for name in names:
        print(markdown(name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
