"""A tiny section notebook (section 9.1, see section9_1.py beside it) for the grader's tests.

Written as the course's notebooks are: solution blocks in code cells, stable cell ids.
``lessons_version`` runs it through ``grader release``'s notebook rendering.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.release import NOTEBOOK_METADATA, _render_notebook

SECTIONS_DIR = Path(__file__).parent

CELLS = [
    ("c01", "code", "from grader.lesson import serve, sim, check, quiz"),
    ("c02", "markdown", "## Write `add`"),
    ("c03", "code", """def add(a, b):
    # BEGIN SOLUTION
    return a + b
    # STUB: raise NotImplementedError("write add")
    # END SOLUTION"""),
    ("c04", "code", 'check("9.1.add", add)'),
    ("c05", "code", """from fastapi import FastAPI
import httpx

app = FastAPI(title="Demo")


@app.get("/hello")
def hello():
    # BEGIN SOLUTION
    return {"hello": "world"}
    # STUB: raise NotImplementedError
    # END SOLUTION


server = serve(app)
print(httpx.get(server.url + "/openapi.json").status_code)"""),
    ("c06", "code", 'check("9.1.hello", app)'),
    ("c07", "code", """import anthropic

# BEGIN SOLUTION
message = anthropic.Anthropic().messages.create(
    model="claude-sonnet-4-5", max_tokens=50, messages=[{"role": "user", "content": "Hi"}]
)
reply = message.content[0].text
# STUB: raise NotImplementedError("ask the model")
# END SOLUTION
print(len(sim().requests()), "request(s) reached llmsim")"""),
    ("c08", "code", 'check("9.1.reply", reply)'),
    ("c09", "code", """import time


def wait():
    # BEGIN SOLUTION
    return None
    # STUB: time.sleep(30)
    # END SOLUTION"""),
    ("c10", "code", 'check("9.1.wait", wait)'),
    ("c11", "code", """# BEGIN SOLUTION
answers = {"two-plus-two": "b", "http-get": "a"}
# STUB: answers = {"two-plus-two": None, "http-get": None}
# END SOLUTION
quiz("9.1", answers)"""),
]


def solution(edits: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """The solved notebook; ``edits`` replaces whole cells' sources by cell id."""
    nb = new_notebook(metadata=json.loads(json.dumps(NOTEBOOK_METADATA)))
    for cell_id, kind, source in CELLS:
        source = (edits or {}).get(cell_id, source)
        make = new_code_cell if kind == "code" else new_markdown_cell
        nb.cells.append(make(source, id=cell_id))
    return nb


def write(nb: nbformat.NotebookNode, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def lessons_version(solved: Path, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_render_notebook(solved.read_text(), str(solved)), encoding="utf-8")
    return path
