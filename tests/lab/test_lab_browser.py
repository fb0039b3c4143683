"""Headless Chromium (Debian's, driven by Playwright) against a running `make lab`.

Skipped with a reason only outside CI when /usr/bin/chromium is missing; under CI=true a
missing chromium fails.
"""

from __future__ import annotations

import re

import pytest
from labtools import CHROMIUM_ARGS, Kernel, Lab, chromium_path, make_lessons

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def lab_with_app(tmp_path_factory):
    lessons = make_lessons(tmp_path_factory.mktemp("browser"))
    lab = Lab(lessons)
    kernel = None
    try:
        lab.wait_ready()
        kernel = Kernel(lab, "lab_smoke_test.ipynb")
        from labtools import SMOKE_CELLS

        out = kernel.execute(SMOKE_CELLS[0])
        assert out["status"] == "ok", out
        app_port = int(re.search(r"PORT=(\d+)", out["stdout"]).group(1))
        yield lab, app_port
    finally:
        if kernel is not None:
            kernel.ws.close()
        lab.kill()


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    # Nothing leaves the machine: FastAPI's /docs loads the Swagger UI from a CDN, which
    # offline CI cannot reach; the tests check what the page asks the proxy for instead.
    page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/]|localhost[:/])"), lambda route: route.abort())
    try:
        yield page
    finally:
        context.close()


def test_jupyterlab_shows_the_lessons_tree(lab_with_app, page):
    lab, _ = lab_with_app
    page.goto(f"{lab.url}/lab?token={lab.token}", wait_until="domcontentloaded", timeout=60_000)
    listing = page.locator(".jp-DirListing-content")
    listing.get_by_text("lab_smoke_test.ipynb", exact=True).wait_for(timeout=90_000)
    names = set(listing.locator(".jp-DirListing-itemText").all_inner_texts())
    expected = {p.name for p in lab.lessons.iterdir() if not p.name.startswith(".")}
    assert expected <= {n.strip() for n in names}, (expected, names)
    assert "JupyterLab" in page.title()
    # offline by default: no "get notified about Jupyter news?" prompt (docker/lab-settings)
    page.wait_for_timeout(1000)
    assert page.get_by_text("get notified about official Jupyter news").count() == 0


def test_embedded_app_docs_work_through_the_proxy(lab_with_app, page):
    lab, app_port = lab_with_app
    page.goto(f"{lab.url}/lab?token={lab.token}", wait_until="domcontentloaded", timeout=60_000)  # logs in
    response = page.goto(f"{lab.url}/proxy/{app_port}/docs", wait_until="domcontentloaded")
    assert response is not None and response.status == 200
    assert page.title() == "Lab smoke test - Swagger UI"
    schema_url = re.search(r"url: '([^']+)'", page.content()).group(1)
    assert schema_url == f"/proxy/{app_port}/openapi.json"
    # What the Swagger UI does next, from the page itself: load the schema (relative to the
    # page's origin, so through the proxy), then "Try it out" against schema.servers[0].
    result = page.evaluate(
        """async (url) => {
            const schema = await (await fetch(url)).json();
            const base = schema.servers[0].url;
            const hello = await (await fetch(base + "/hello?name=browser")).json();
            return {paths: Object.keys(schema.paths), base, hello};
        }""",
        schema_url,
    )
    assert "/hello" in result["paths"]
    assert result["base"] == f"/proxy/{app_port}"
    assert result["hello"]["hello"] == "browser"
