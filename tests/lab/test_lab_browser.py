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
    tmp = tmp_path_factory.mktemp("browser")
    lessons = make_lessons(tmp)
    # A workspaces folder of its own: a first start, whatever this machine's ~/.jupyter holds.
    lab = Lab(lessons, env={"JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces")})
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
    """A page with the network off: every request beyond this machine is aborted and noted."""
    context = browser.new_context()
    page = context.new_page()
    page.outside = []  # what the page tried to fetch from elsewhere

    def abort(route):
        page.outside.append(route.request.url)
        route.abort()

    context.route(re.compile(r"^https?://(?!(127\.0\.0\.1|localhost)[:/])"), abort)
    try:
        yield page
    finally:
        context.close()


def test_the_first_start_opens_the_start_page(lab_with_app, page):
    lab, _ = lab_with_app
    page.goto(f"{lab.url}/lab?token={lab.token}", wait_until="domcontentloaded", timeout=60_000)
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current .lm-TabBar-tabLabel")
    tab.get_by_text("00_start_here.ipynb", exact=True).wait_for(timeout=90_000)
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    notebook.get_by_role("heading", name=re.compile("Start here")).wait_for(timeout=30_000)
    notebook.get_by_role("heading", name="The course map").wait_for()
    assert notebook.get_by_role("link", name="projects/01_fastapi_hello/README.md").count() == 1
    # the file browser still shows lessons/ at its root
    listing = page.locator(".jp-DirListing-content")
    listing.get_by_text("00_start_here.ipynb", exact=True).wait_for(timeout=30_000)
    assert page.locator(".jp-FileBrowser .jp-BreadCrumbs").inner_text().strip() in ("", "/")


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


def test_docs_render_offline_through_the_proxy(lab_with_app, page):
    lab, app_port = lab_with_app
    page.goto(f"{lab.url}/lab?token={lab.token}", wait_until="domcontentloaded", timeout=60_000)  # logs in
    page.goto(f"{lab.url}/proxy/{app_port}/docs", wait_until="domcontentloaded")
    operation = page.locator(".opblock", has_text="/hello")
    operation.wait_for(timeout=30_000)  # Swagger UI ran: its JavaScript came through the proxy
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("Lab smoke test")
    # "Try it out" calls the app through the proxy too
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table tr.response .response-col_status").first
    status.wait_for(timeout=30_000)
    assert status.inner_text().strip() == "200"
    assert page.outside == [], f"the docs page reached beyond this machine: {page.outside}"

    page.goto(f"{lab.url}/proxy/{app_port}/redoc", wait_until="domcontentloaded")
    page.locator("redoc h2", has_text="Hello").first.wait_for(timeout=30_000)  # ReDoc rendered the operation
    assert page.locator("redoc").get_by_text("/hello").count() >= 1
    assert page.outside == [], f"the ReDoc page reached beyond this machine: {page.outside}"
