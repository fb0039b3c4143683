"""FastAPI's /docs and /redoc without the internet: the same pages, with local assets.

FastAPI's docs pages load Swagger UI and ReDoc (JavaScript, CSS, a favicon) from a CDN, so
without internet they stay blank. :func:`with_offline_docs` wraps an app, as the notebooks'
``serve()`` does, and answers the app's own docs URLs with the pages FastAPI would have
built, pointing at copies of those assets served under ``/_docs_assets/``. The copies come
from the pinned ``fastapi-standalone-docs`` package (Swagger UI and ReDoc with their
licences). The learner's ``FastAPI()`` code is untouched; every other request, the schema
included, goes to the app unchanged.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

ASSETS_PATH = "/_docs_assets"  # reserved: no course app has a route there
SWAGGER_JS = "/swagger/swagger-ui-bundle.js"
SWAGGER_CSS = "/swagger/swagger-ui.css"
REDOC_JS = "/redoc/redoc.standalone.js"
FAVICON = "/fastapi/favicon.png"


def assets_dir() -> Path:
    """The folder of fastapi-standalone-docs's assets (found without importing it)."""
    spec = importlib.util.find_spec("fastapi_standalone_docs")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("fastapi-standalone-docs is not installed (pip install -r requirements.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def has_docs(app: Any) -> bool:
    return isinstance(app, FastAPI) and bool(app.openapi_url) and bool(app.docs_url or app.redoc_url)


def with_offline_docs(app: ASGIApp) -> ASGIApp:
    """``app`` with its docs pages served offline; ``app`` itself when it has no docs."""
    if not has_docs(app):
        return app
    return OfflineDocs(app)  # type: ignore[arg-type]


def _route_path(path: str, root_path: str) -> str:
    # As Starlette routes: servers put the root path in front of the path (ASGI spec).
    if root_path and path.startswith(root_path) and path[len(root_path):len(root_path) + 1] in ("", "/"):
        return path[len(root_path):] or "/"
    return path


class OfflineDocs:
    """ASGI wrapper: the docs pages and their assets here, everything else to the app."""

    def __init__(self, app: FastAPI):
        self.app = app
        self.assets = StaticFiles(directory=assets_dir())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or not has_docs(self.app):
            await self.app(scope, receive, send)
            return
        app = self.app
        root = (app.root_path or scope.get("root_path", "")).rstrip("/")  # FastAPI's own order
        path = _route_path(scope["path"], root)
        if path.startswith(ASSETS_PATH + "/"):
            try:
                await self.assets({**scope, "root_path": "", "path": path[len(ASSETS_PATH):]}, receive, send)
            except HTTPException as exc:  # StaticFiles leaves 404/405 to an app's exception handler
                await PlainTextResponse(exc.detail, exc.status_code, headers=exc.headers)(scope, receive, send)
            return
        assets = root + ASSETS_PATH
        if path == app.docs_url:
            redirect = app.swagger_ui_oauth2_redirect_url
            page = get_swagger_ui_html(
                openapi_url=root + app.openapi_url,
                title=f"{app.title} - Swagger UI",
                swagger_js_url=assets + SWAGGER_JS,
                swagger_css_url=assets + SWAGGER_CSS,
                swagger_favicon_url=assets + FAVICON,
                oauth2_redirect_url=root + redirect if redirect else None,
                init_oauth=app.swagger_ui_init_oauth,
                swagger_ui_parameters=app.swagger_ui_parameters,
            )
        elif path == app.redoc_url:
            page = get_redoc_html(
                openapi_url=root + app.openapi_url,
                title=f"{app.title} - ReDoc",
                redoc_js_url=assets + REDOC_JS,
                redoc_favicon_url=assets + FAVICON,
                with_google_fonts=False,  # ReDoc falls back to the system's fonts
            )
        else:
            await self.app(scope, receive, send)
            return
        await page(scope, receive, send)

    def __getattr__(self, name: str) -> Any:
        # Code that reaches for the app's attributes (title, routes, state) still finds them.
        if name == "app":
            raise AttributeError(name)
        return getattr(self.app, name)
