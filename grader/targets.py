"""The grader's targets, read from the course index ``grader/course.toml``."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

COURSE_INDEX = Path(__file__).parent / "course.toml"
CRITERIA_DIR = Path(__file__).parent / "criteria"
KINDS = ("project", "section")
SERVICES = ("redis", "browser", "docker")


class TargetError(Exception):
    """The grader cannot run for this target (exit status 2)."""


@dataclass(frozen=True)
class Target:
    name: str  # project4, section2.1
    kind: str  # project | section
    rel_path: str  # below lessons/ or solutions/
    title: str
    criteria: str = ""  # module below grader.criteria: projects.project4, sections.section2_1
    criteria_path: Path | None = None  # tests point a target at criteria of their own
    needs: tuple[str, ...] = ()  # services its criteria use (SERVICES)
    quiz: str | None = None  # a project's quiz file, relative to its folder
    prepares_for: str | None = None

    @property
    def criteria_module(self) -> str:
        return "grader.criteria." + self.criteria

    @property
    def criteria_file(self) -> Path:
        if self.criteria_path is not None:
            return self.criteria_path
        return CRITERIA_DIR.joinpath(*self.criteria.split(".")).with_suffix(".py")

    @property
    def built(self) -> bool:
        """A target is available once its criteria module exists."""
        return self.criteria_file.is_file()

    @property
    def needs_redis(self) -> bool:
        """The app gets REDIS_URL (see grader.services for where the Redis comes from)."""
        return "redis" in self.needs


def load_course(path: Path = COURSE_INDEX) -> dict[str, Target]:
    """Every target of the course index, in its (the recommended learning) order."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    targets: dict[str, Target] = {}
    for entry in data.get("target", []):
        tgt = Target(
            name=entry["name"],
            kind=entry["kind"],
            rel_path=entry["folder"],
            title=entry["title"],
            criteria=entry["criteria"],
            needs=tuple(entry.get("needs", ())),
            quiz=entry.get("quiz"),
            prepares_for=entry.get("prepares_for"),
        )
        unknown = set(tgt.needs) - set(SERVICES)
        if tgt.kind not in KINDS or unknown or tgt.name in targets:
            raise ValueError(f"{path.name}: target {tgt.name!r} has a bad kind, needs or a duplicate name")
        targets[tgt.name] = tgt
    return targets


TARGETS: dict[str, Target] = load_course()


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
    try:
        given = Path(path).expanduser().resolve()
    except (RuntimeError, OSError):  # RuntimeError: a symlink loop (Python < 3.13)
        raise TargetError(f"--path {path}: a symbolic link that loops (it points back to itself)") from None
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
