"""tests/lab: the learner environment (`make lab`, the image, compose). Helpers: labtools.py."""

import pytest


@pytest.fixture(autouse=True)
def _never_download_browsers(monkeypatch):
    # Playwright must never fetch a browser of its own; the browser tests pass Debian's chromium.
    monkeypatch.setenv("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", "/nonexistent-playwright-browsers")
