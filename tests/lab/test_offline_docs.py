"""grader.offline_docs: /docs and /redoc pages with local assets, the rest of the app unchanged."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from grader.offline_docs import ASSETS_PATH, with_offline_docs


def make_app(**kwargs) -> FastAPI:
    app = FastAPI(title="Offline docs", **kwargs)

    @app.get("/items/{item_id}")
    def read_item(item_id: int) -> dict:
        return {"item_id": item_id}

    return app


def local_urls(html: str) -> list[str]:
    """Every URL the page loads: src/href attributes and the schema's url."""
    urls = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)
    urls += re.findall(r'spec-url="([^"]+)"', html)
    assert urls, html
    return urls


def test_docs_pages_load_only_local_urls():
    client = TestClient(with_offline_docs(make_app()))
    docs = client.get("/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    assert "Offline docs - Swagger UI" in docs.text
    redoc = client.get("/redoc")
    assert redoc.status_code == 200 and "Offline docs - ReDoc" in redoc.text
    for page in (docs.text, redoc.text):
        assert not re.search(r"https?://", page), page  # no CDN, no Google fonts
        for url in local_urls(page):
            assert url.startswith("/"), url
            assert client.get(url).status_code == 200, url
    assert f"{ASSETS_PATH}/swagger/swagger-ui-bundle.js" in docs.text
    assert f"{ASSETS_PATH}/redoc/redoc.standalone.js" in redoc.text


@pytest.mark.parametrize(("asset", "content_type", "marker"), [
    ("/swagger/swagger-ui-bundle.js", "text/javascript", b"SwaggerUIBundle"),
    ("/swagger/swagger-ui.css", "text/css", b".swagger-ui"),
    ("/redoc/redoc.standalone.js", "text/javascript", b"Redoc"),
    ("/fastapi/favicon.png", "image/png", b"PNG"),
])
def test_assets_answer_with_their_content_type(asset, content_type, marker):
    client = TestClient(with_offline_docs(make_app()))
    r = client.get(ASSETS_PATH + asset)
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] in (content_type, "application/javascript")
    assert marker in r.content[:2_000_000]
    assert client.head(ASSETS_PATH + asset).status_code == 200


def test_unknown_assets_and_escapes_are_404():
    client = TestClient(with_offline_docs(make_app()))
    assert client.get(f"{ASSETS_PATH}/nope.js").status_code == 404
    assert client.get(f"{ASSETS_PATH}/../../../etc/passwd").status_code == 404


def test_the_app_itself_is_unchanged():
    app = make_app()
    plain, wrapped = TestClient(app), TestClient(with_offline_docs(app))
    assert wrapped.get("/items/3").json() == {"item_id": 3}
    assert wrapped.get("/items/x").status_code == 422
    assert wrapped.get("/nowhere").status_code == 404
    assert wrapped.post("/docs").status_code == 405  # only GET/HEAD are the docs page's
    assert wrapped.get("/openapi.json").json() == plain.get("/openapi.json").json()
    assert "/_docs_assets" not in str(wrapped.get("/openapi.json").json())
    assert with_offline_docs(app).title == "Offline docs"  # attributes reach the app


def test_root_path_behind_the_lab_proxy():
    # jupyter-server-proxy strips /proxy/PORT; serve() gives uvicorn that root path.
    client = TestClient(with_offline_docs(make_app()), root_path="/proxy/8123")
    docs = client.get("/docs").text
    assert "url: '/proxy/8123/openapi.json'" in docs
    assert f'src="/proxy/8123{ASSETS_PATH}/swagger/swagger-ui-bundle.js"' in docs
    assert f'href="/proxy/8123{ASSETS_PATH}/swagger/swagger-ui.css"' in docs
    assert "oauth2RedirectUrl: window.location.origin + '/proxy/8123/docs/oauth2-redirect'" in docs
    assert client.get(f"{ASSETS_PATH}/swagger/swagger-ui.css").status_code == 200
    redoc = client.get("/redoc").text
    assert f'src="/proxy/8123{ASSETS_PATH}/redoc/redoc.standalone.js"' in redoc
    assert client.get("/openapi.json").json()["servers"] == [{"url": "/proxy/8123"}]
    assert client.get("/items/1").json() == {"item_id": 1}


def test_custom_urls_and_swagger_parameters_are_respected():
    app = make_app(docs_url="/api-docs", redoc_url="/reference", openapi_url="/spec.json",
                   swagger_ui_parameters={"defaultModelsExpandDepth": -1})
    client = TestClient(with_offline_docs(app))
    docs = client.get("/api-docs").text
    assert "url: '/spec.json'" in docs and '"defaultModelsExpandDepth": -1' in docs
    assert ASSETS_PATH in docs
    assert ASSETS_PATH in client.get("/reference").text
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404


@pytest.mark.parametrize("kwargs", [
    {"docs_url": None, "redoc_url": None},
    {"openapi_url": None},
])
def test_docs_disabled_stays_disabled(kwargs):
    app = make_app(**kwargs)
    assert with_offline_docs(app) is app
    client = TestClient(with_offline_docs(app))
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404
    assert client.get(f"{ASSETS_PATH}/swagger/swagger-ui.css").status_code == 404


def test_one_page_disabled_keeps_the_other_off():
    client = TestClient(with_offline_docs(make_app(redoc_url=None)))
    assert ASSETS_PATH in client.get("/docs").text
    assert client.get("/redoc").status_code == 404


def test_non_fastapi_apps_pass_through():
    from starlette.applications import Starlette

    app = Starlette()
    assert with_offline_docs(app) is app
