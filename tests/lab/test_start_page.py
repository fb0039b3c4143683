"""lessons/00_start_here.ipynb: the page JupyterLab opens first.

Its course map (the cell with id "course-map") lists every target of the course in the
syllabus's recommended order, linking each to its notebook or project README, and says
"coming soon" exactly where that file does not exist yet. When a notebook lands, rewrite
the map and release:

    .venv/bin/python tests/lab/test_start_page.py --write && .venv/bin/grader release
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from grader.targets import TARGETS  # noqa: E402

START_PAGE = "00_start_here.ipynb"
MAP_CELL = "course-map"
COMING_SOON = "*coming soon*"

# The syllabus's "Recommended learning order", one step per line.
RECOMMENDED_ORDER = [
    ("1", "FastAPI fundamentals", ["section1.1", "section1.2", "section1.3", "section1.4", "project1"]),
    ("2", "Docker, then Project 1 in a container", ["section6.1", "section6.2"]),
    ("3", "Your first LLM calls", ["section3.1", "project2"]),
    ("4", "Many providers, one interface", ["section3.3", "section3.2", "section3.4", "project3"]),
    ("5", "Async and streaming", ["section2.1", "section2.2", "section2.3",
                                   "section4.1", "section4.2", "section4.3", "project4"]),
    ("6", "Production patterns", ["section5.1", "section5.2", "section5.3", "section5.4", "project5"]),
    ("7", "Putting it all together", ["project6", "project7"]),
]
ORDER = [name for _, _, names in RECOMMENDED_ORDER for name in names]


def link_target(name: str) -> str:
    """The file a row links to, relative to lessons/."""
    target = TARGETS[name]
    return f"{target.rel_path}/README.md" if target.kind == "project" else target.rel_path


def render_course_map(lessons: Path) -> str:
    """The course map's Markdown, for the lessons/ folder as it is now."""
    lines = [
        "## The course map",
        "",
        "Every section and project, in the recommended order. Sections are notebooks; "
        "projects are folders with a README that says what to build.",
        "",
        "| Step | Target | Title | Open |",
        "| --- | --- | --- | --- |",
    ]
    for step, step_title, names in RECOMMENDED_ORDER:
        for i, name in enumerate(names):
            target = TARGETS[name]
            path = link_target(name)
            label = Path(target.rel_path).name if target.kind == "section" else f"{target.rel_path}/README.md"
            opened = f"[{label}]({path})" if (lessons / path).is_file() else COMING_SOON
            kind = "Project" if target.kind == "project" else "Section"
            number = name.removeprefix(target.kind)
            first = f"**{step}** {step_title}" if i == 0 else ""
            lines.append(f"| {first} | `{name}` | {kind} {number}: {target.title} | {opened} |")
    return "\n".join(lines)


def start_page(folder: Path) -> nbformat.NotebookNode:
    return nbformat.read(folder / START_PAGE, as_version=4)


def map_cell(nb: nbformat.NotebookNode) -> str:
    cells = [c for c in nb.cells if c.get("id") == MAP_CELL]
    assert len(cells) == 1 and cells[0].cell_type == "markdown", f"{START_PAGE} needs one markdown cell {MAP_CELL!r}"
    return cells[0].source


def table_rows(markdown: str) -> list[tuple[str, str]]:
    """(target name, what the Open column says) for each row of the map."""
    rows = re.findall(r"^\| [^|]* \| `([^`]+)` \| [^|]+ \| (.+) \|$", markdown, flags=re.M)
    assert rows, markdown
    return rows


def write() -> None:
    """Rewrite the map cell of solutions/00_start_here.ipynb for the current lessons/."""
    path = ROOT / "solutions" / START_PAGE
    nb = start_page(path.parent)
    cell = next(c for c in nb.cells if c.get("id") == MAP_CELL)
    cell.source = render_course_map(ROOT / "lessons")
    nbformat.write(nb, path)
    print(f"wrote the course map in {path}; now run `grader release`")


# -- tests --------------------------------------------------------------------------------


def test_the_map_lists_every_target_in_the_recommended_order():
    assert sorted(ORDER) == sorted(TARGETS), "RECOMMENDED_ORDER and grader.targets.TARGETS disagree"
    assert len(ORDER) == len(set(ORDER))
    rows = table_rows(map_cell(start_page(ROOT / "lessons")))
    assert [name for name, _ in rows] == ORDER


def test_links_resolve_or_say_coming_soon():
    lessons = ROOT / "lessons"
    for name, opened in table_rows(map_cell(start_page(lessons))):
        path = lessons / link_target(name)
        if path.is_file():
            m = re.fullmatch(r"\[[^\]]+\]\(([^)]+)\)", opened)
            assert m, f"{name}: {path.relative_to(ROOT)} exists, so the map must link it (got {opened!r})"
            assert (lessons / m.group(1)).resolve() == path.resolve(), f"{name}: links {m.group(1)}"
        else:
            assert opened == COMING_SOON, f"{name}: {path.relative_to(ROOT)} is missing, so the map must say coming soon"


def test_the_map_is_current():
    # The whole cell, as the generator writes it: titles and labels cannot drift either.
    got = map_cell(start_page(ROOT / "lessons"))
    assert got == render_course_map(ROOT / "lessons"), (
        "the course map is out of date: run `.venv/bin/python tests/lab/test_start_page.py --write` "
        "then `.venv/bin/grader release`"
    )


def test_every_link_on_the_page_resolves():
    lessons = ROOT / "lessons"
    nb = start_page(lessons)
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for href in re.findall(r"\]\(([^)]+)\)", cell.source):
            if re.match(r"[a-z]+:", href) or href.startswith("#"):
                continue
            assert (lessons / href).is_file(), f"{START_PAGE} cell {cell.id} links {href}, which does not exist"


def test_the_page_is_a_clean_committed_notebook():
    for folder in ("solutions", "lessons"):
        nb = start_page(ROOT / folder)
        nbformat.validate(nb)
        assert nb.metadata == {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                               "language_info": {"name": "python"}}
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
        text = "\n".join(c.source for c in nb.cells)
        assert "DESIGN" not in text
        assert "http://" not in text and "https://" not in text  # nothing a learner offline cannot open


def test_its_code_runs():
    nb = start_page(ROOT / "lessons")
    for cell in nb.cells:
        if cell.cell_type == "code":
            exec(compile(cell.source, f"{START_PAGE}:{cell.id}", "exec"), {})


def test_first_start_seeds_a_workspace_that_opens_the_page(tmp_path):
    from jupyterlab_server.workspaces_handler import WorkspacesManager

    from grader.lab import seed_start_page

    lessons = tmp_path / "lessons"
    lessons.mkdir()
    env = {"JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws")}
    assert seed_start_page(lessons, env) is None  # no start page, nothing to open
    (lessons / START_PAGE).write_text("{}")
    written = seed_start_page(lessons, env)
    assert written is not None and written.parent == tmp_path / "ws"
    # JupyterLab's own reader finds it as the default workspace
    data = WorkspacesManager(env["JUPYTERLAB_WORKSPACES_DIR"]).load("default")["data"]
    assert data["layout-restorer:data"]["main"]["current"] == f"notebook:{START_PAGE}"
    assert data[f"notebook:{START_PAGE}"]["data"]["path"] == START_PAGE
    assert data["layout-restorer:data"]["left"]["current"] == "filebrowser"
    # later starts restore the learner's own layout
    written.write_text('{"data": {}, "metadata": {"id": "default"}}')
    assert seed_start_page(lessons, env) is None
    assert written.read_text() == '{"data": {}, "metadata": {"id": "default"}}'


def test_workspaces_follow_jupyter_config_dir(tmp_path):
    from grader.lab import seed_start_page

    (tmp_path / START_PAGE).write_text("{}")
    written = seed_start_page(tmp_path, {"JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")})
    assert written is not None and written.parent == tmp_path / "cfg" / "lab" / "workspaces"


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write()
    else:
        print(__doc__)
