"""create_app(): the simulator as one ASGI app - provider routes plus the control API.

Provider routes are in ``anthropic_api`` and ``openai_api``; the control API (``/llmsim/...``)
is here. Routing is a dict lookup on (method, path) so a request costs little.
"""

from __future__ import annotations

import json
import time

from . import __version__, anthropic_api, generation, openai_api
from .asgi import Abort, Request, dumps, send_bytes, send_json
from .faults import FaultError
from .state import ConfigError, SimState, new_id

CONTROL_BODY_LIMIT = 1024 * 1024

_PROVIDER_ROUTES = {
    ("POST", "/v1/messages"): "anthropic_messages",
    ("POST", "/v1/messages/count_tokens"): "anthropic_count_tokens",
    ("POST", "/v1/chat/completions"): "openai_chat",
    ("POST", "/api/v1/chat/completions"): "openrouter_chat",
    ("GET", "/v1/models"): "models",
    ("GET", "/api/v1/models"): "openrouter_models",
}
_CONTROL_ROUTES = {
    ("GET", "/llmsim/health"): "health",
    ("GET", "/llmsim/config"): "get_config",
    ("PUT", "/llmsim/config"): "put_config",
    ("GET", "/llmsim/faults"): "get_faults",
    ("POST", "/llmsim/faults"): "post_fault",
    ("DELETE", "/llmsim/faults"): "delete_faults",
    ("GET", "/llmsim/requests"): "get_requests",
    ("DELETE", "/llmsim/requests"): "delete_requests",
    ("POST", "/llmsim/reset"): "reset",
}
ENDPOINTS = sorted(f"{m} {p}" for m, p in list(_PROVIDER_ROUTES) + list(_CONTROL_ROUTES)) + ["GET /v1/models/{id}"]
_ALLOWED = {}
for _method, _path in list(_PROVIDER_ROUTES) + list(_CONTROL_ROUTES):
    _ALLOWED.setdefault(_path, []).append(_method)


def _control_error(status: int, kind: str, message: str) -> dict:
    return {"error": {"type": kind, "message": message}}


def looks_anthropic(headers: dict[str, str]) -> bool:
    """``GET /v1/models`` is both providers' path: Anthropic clients send these headers."""
    return "anthropic-version" in headers or "x-api-key" in headers


class SimApp:
    """The ASGI app. ``state`` holds config, faults and journal; ``closing`` ends waits."""

    def __init__(self, state: SimState | None = None) -> None:
        self.state = state if state is not None else SimState()
        self.started_at = time.time()
        self._aborts: set[Abort] = set()
        self._closing = False

    # -- shutdown: wake every hang, slow wait and stream -----------------------------------
    def new_abort(self, receive) -> Abort:
        abort = Abort()
        abort.watch(receive)
        self._aborts.add(abort)
        if self._closing:
            abort.set("closing")
        return abort

    def drop_abort(self, abort: Abort) -> None:
        abort.stop_watching()
        self._aborts.discard(abort)

    def open(self) -> None:
        """Called before serving (again): requests may wait and stream."""
        self._closing = False

    def close(self) -> None:
        """Called on the server's loop when it begins to shut down."""
        self._closing = True
        for abort in list(self._aborts):
            abort.set("closing")

    # -- ASGI ---------------------------------------------------------------------------
    async def __call__(self, scope, receive, send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(Request(scope, receive, send))
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    self.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})

    async def _http(self, request: Request) -> None:
        key = (request.method, request.path)
        name = _PROVIDER_ROUTES.get(key)
        if name is not None:
            await getattr(self, "_" + name)(request)
            return
        name = _CONTROL_ROUTES.get(key)
        if name is not None:
            await getattr(self, "_" + name)(request)
            return
        if request.method == "GET" and request.path.startswith("/v1/models/"):
            await self._model(request, request.path[len("/v1/models/"):])
            return
        await self._no_route(request)

    async def _no_route(self, request: Request) -> None:
        path, method = request.path, request.method
        allowed = _ALLOWED.get(path)
        if allowed:
            status, message = 405, f"{method} is not allowed on {path}; use {' or '.join(sorted(allowed))}"
        else:
            status, message = 404, f"no route {method} {path} in llmsim; see GET /llmsim/health for the endpoints"
        headers = [(b"allow", ", ".join(sorted(allowed)).encode())] if allowed else []
        request_id = new_id("req_")
        if path.startswith("/api/"):
            body = openai_api.OPENROUTER.error_body(status, message, request_id)
            headers.append((b"x-request-id", request_id.encode()))
        elif path.startswith("/v1/"):
            if looks_anthropic(request.headers):
                body = anthropic_api.PROVIDER.error_body(status, message, request_id)
                headers.append((b"request-id", request_id.encode()))
            else:
                body = openai_api.OPENAI.error_body(status, message, request_id)
                headers.append((b"x-request-id", request_id.encode()))
        else:
            body = _control_error(status, "not_found" if status == 404 else "method_not_allowed", message)
        await send_json(request.send, status, body, headers)

    # -- provider routes ----------------------------------------------------------------
    async def _anthropic_messages(self, request: Request) -> None:
        await generation.handle(self, request, anthropic_api.PROVIDER)

    async def _anthropic_count_tokens(self, request: Request) -> None:
        await generation.handle_simple(self, request, anthropic_api.PROVIDER, anthropic_api.count_tokens)

    async def _openai_chat(self, request: Request) -> None:
        await generation.handle(self, request, openai_api.OPENAI)

    async def _openrouter_chat(self, request: Request) -> None:
        await generation.handle(self, request, openai_api.OPENROUTER)

    async def _models(self, request: Request) -> None:
        if looks_anthropic(request.headers):
            await generation.handle_simple(self, request, anthropic_api.PROVIDER, anthropic_api.list_models)
        else:
            await generation.handle_simple(self, request, openai_api.OPENAI, openai_api.openai_models)

    async def _model(self, request: Request, model_id: str) -> None:
        if looks_anthropic(request.headers):
            await generation.handle_simple(self, request, anthropic_api.PROVIDER, anthropic_api.get_model(model_id))
        else:
            await generation.handle_simple(self, request, openai_api.OPENAI, openai_api.openai_model(model_id))

    async def _openrouter_models(self, request: Request) -> None:
        # OpenRouter's model list is public: no key needed.
        await generation.handle_simple(self, request, openai_api.OPENROUTER, openai_api.openrouter_models,
                                       auth=False)

    # -- control API --------------------------------------------------------------------
    async def _json_body(self, request: Request):
        """The request's JSON body, or an error already sent (returns ``_NO_BODY``)."""
        try:
            raw = await request.body(CONTROL_BODY_LIMIT)
        except Exception as exc:
            await send_json(request.send, 413, _control_error(413, "body_too_large", str(exc)))
            return _NO_BODY
        try:
            return json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            await send_json(request.send, 400, _control_error(400, "invalid_json", f"the body is not valid JSON: {exc}"))
            return _NO_BODY

    async def _health(self, request: Request) -> None:
        state = self.state
        await send_json(request.send, 200, {
            "status": "ok",
            "service": "llmsim",
            "version": __version__,
            "uptime_s": round(time.time() - self.started_at, 3),
            "config": state.config(),
            "faults": len(state.faults()),
            "endpoints": ENDPOINTS,
        })

    async def _get_config(self, request: Request) -> None:
        await send_json(request.send, 200, self.state.config())

    async def _put_config(self, request: Request) -> None:
        body = await self._json_body(request)
        if body is _NO_BODY:
            return
        try:
            config = self.state.update_config(body)
        except ConfigError as exc:
            await send_json(request.send, 422, _control_error(422, "invalid_config", str(exc)))
            return
        await send_json(request.send, 200, config)

    async def _get_faults(self, request: Request) -> None:
        await send_json(request.send, 200, self.state.faults())

    async def _post_fault(self, request: Request) -> None:
        body = await self._json_body(request)
        if body is _NO_BODY:
            return
        try:
            fault = self.state.add_fault(body)
        except FaultError as exc:
            await send_json(request.send, 422, _control_error(422, "invalid_fault", str(exc)))
            return
        await send_json(request.send, 201, fault)

    async def _delete_faults(self, request: Request) -> None:
        count = len(self.state.faults())
        self.state.clear_faults()
        await send_json(request.send, 200, {"cleared": count})

    async def _get_requests(self, request: Request) -> None:
        params = request.query_params()
        allowed = {"provider", "path", "model", "outcome", "stream", "status", "fault", "id", "method"}
        unknown = sorted(set(params) - allowed)
        if unknown:
            await send_json(request.send, 400, _control_error(
                400, "invalid_filter", f"unknown filter(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"))
            return
        await send_bytes(request.send, 200, dumps(self.state.requests(**params)))

    async def _delete_requests(self, request: Request) -> None:
        count = len(self.state.requests())
        self.state.clear_requests()
        await send_json(request.send, 200, {"cleared": count})

    async def _reset(self, request: Request) -> None:
        self.state.reset()
        await send_json(request.send, 200, {"status": "reset", "config": self.state.config()})


_NO_BODY = object()


def create_app(state: SimState | None = None) -> SimApp:
    """A fresh simulator ASGI app; pass ``state`` to share or inspect it directly."""
    return SimApp(state)
