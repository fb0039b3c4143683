"""Section 1.4, Dependency Injection: the exercises' checks and the quiz.

Each check calls the learner's app (or an app built here around the learner's dependency)
with fastapi's TestClient and reads status codes, headers, bodies and the events a session
records: behaviour, never the shape of the code.
"""

from typing import Annotated, Any

from grader.criterion import check
from grader.exercise import exercise, section_quiz

# -- 1.4.session ------------------------------------------------------------------------------


def _session_app(get_session: Any) -> tuple[Any, list]:
    """Three endpoints around the learner's dependency; each keeps the session it was given."""
    from fastapi import Depends, FastAPI, HTTPException

    seen: list = []
    app = FastAPI()
    SessionDep = Annotated[Any, Depends(get_session)]

    @app.post("/ok")
    def ok(session: SessionDep) -> dict:
        seen.append(session)
        if hasattr(session, "add"):  # anything else is reported by the check, not as a crash here
            session.add("ok")
        return {"saved": True}

    @app.post("/conflict")
    def conflict(session: SessionDep) -> dict:
        seen.append(session)
        if hasattr(session, "add"):  # anything else is reported by the check, not as a crash here
            session.add("conflict")
        raise HTTPException(409, "already there")

    @app.post("/crash")
    def crash(session: SessionDep) -> dict:
        seen.append(session)
        if hasattr(session, "add"):  # anything else is reported by the check, not as a crash here
            session.add("crash")
        raise RuntimeError("the endpoint failed")

    return app, seen


def _events(session: Any) -> list | None:
    events = getattr(session, "events", None)
    return list(events) if isinstance(events, list) else None


@exercise("1.4.session", "Database session dependency", uses=["get_session"],
          also=["Creating a function dependency"],
          hint="yield the session inside try: commit() after the yield, rollback() then `raise` in "
               "`except Exception`, close() in `finally`")
def session(get_session):
    from fastapi.testclient import TestClient

    check(callable(get_session), f"get_session is {type(get_session).__name__}, not a function: "
          "define it with def and yield the session")
    app, seen = _session_app(get_session)
    # An exception from the learner's own setup code surfaces as theirs ("your code raised …").
    strict = TestClient(app)
    loose = TestClient(app, raise_server_exceptions=False)

    r = strict.post("/ok")
    check(seen, f"the endpoint never ran (POST answered {r.status_code}): get_session must yield the session")
    got = seen[-1]
    events = _events(got)
    check(events is not None, f"get_session gave the endpoint {type(got).__name__}, not a Session: "
          "create one with Session() and yield it")
    check(r.status_code == 200, f"a request whose endpoint succeeds answered {r.status_code}, not 200")
    strict.post("/ok")
    check(len(seen) == 2 and seen[1] is not seen[0],
          "two requests got the same session: create a new Session() inside get_session, for each request")
    check(events == ["open", "add ok", "commit", "close"],
          f"after an endpoint that succeeds the session must be committed, then closed: its events were {events}")

    for path, status, what in (("/conflict", 409, "raises HTTPException(409)"),
                               ("/crash", 500, "raises RuntimeError")):
        count = len(seen)
        r = loose.post(path)
        check(len(seen) == count + 1, f"POST {path} never reached its endpoint (it answered {r.status_code})")
        events = _events(seen[-1])
        name = path.strip("/")
        check(events is not None and "commit" not in events,
              f"when the endpoint {what} the session must not be committed: its events were {events}")
        check(events == ["open", f"add {name}", "rollback", "close"],
              f"when the endpoint {what} the session must be rolled back, then closed: its events were {events}")
        check(r.status_code == status,
              f"when the endpoint {what} the client got {r.status_code}, not {status}: "
              "after rollback(), re-raise the exception (`raise`) so FastAPI answers as the endpoint meant")


# -- 1.4.current_user -------------------------------------------------------------------------

ANN, BOB = "tok-ann", "tok-bob"
MALFORMED = {
    "no Authorization header": None,
    "`Authorization: tok-ann` (no `Bearer `)": ANN,
    "`Authorization: Basic tok-ann`": f"Basic {ANN}",
    "`Authorization: Bearer` (no token)": "Bearer",
    "`Authorization: Bearer ` (an empty token)": "Bearer ",
    "an unknown token (`Bearer nope`)": "Bearer nope",
}


def _auth(token: str | None) -> dict:
    return {} if token is None else {"Authorization": token}


def _is_401_bearer(r: Any) -> bool:
    return r.status_code == 401 and r.headers.get("www-authenticate", "").strip().lower().startswith("bearer")


def _say_401(path: str, case: str, r: Any) -> str:
    if r.status_code != 401:
        return f"GET {path} with {case} answered {r.status_code}, not 401"
    return f"GET {path} with {case} answered 401 without the header `WWW-Authenticate: Bearer`"


def _json(r: Any) -> Any:
    try:
        return r.json()
    except ValueError:
        return r.text


@exercise("1.4.current_user", "Current user dependency (for auth)",
          also=["Using `Depends()` in path operation parameters", "Dependencies with parameters",
                "Sub-dependencies (dependencies of dependencies)",
                "Sharing dependencies across multiple endpoints", "Configuration dependency"],
          uses=["auth_app", "get_settings", "require_role"],
          hint="take the settings with Depends(get_settings), raise HTTPException(401, headers="
               "{'WWW-Authenticate': 'Bearer'}); require_role(role) returns a function that depends on "
               "get_current_user")
def current_user(auth_app, get_settings, require_role):
    from fastapi import Depends, FastAPI
    from fastapi.testclient import TestClient

    check(callable(auth_app) and hasattr(auth_app, "dependency_overrides"),
          f"auth_app is {type(auth_app).__name__}, not a FastAPI app: auth_app = FastAPI()")
    check(callable(require_role), f"require_role is {type(require_role).__name__}, not a function")
    client = TestClient(auth_app)
    real = get_settings()
    tokens = getattr(real, "tokens", None)
    check(isinstance(tokens, dict) and ANN in tokens and BOB in tokens,
          "get_settings() no longer gives the notebook's Settings with tok-ann and tok-bob: run its cell again")

    # The happy paths first, so a stub or an unwired app says so before any 401 case.
    r = client.get("/me", headers=_auth(f"Bearer {ANN}"))
    check(r.status_code != 404, "GET /me answered 404: add the endpoint GET /me to auth_app")
    check(r.status_code == 200, f"GET /me with `Bearer {ANN}` answered {r.status_code}, not 200")
    check(_json(r) == {"name": "ann", "role": "admin"},
          f"GET /me with `Bearer {ANN}` must answer {{\"name\": \"ann\", \"role\": \"admin\"}}, got {_json(r)}")
    r = client.get("/me", headers=_auth(f"Bearer {BOB}"))
    check(r.status_code == 200 and _json(r) == {"name": "bob", "role": "user"},
          f"GET /me with `Bearer {BOB}` must answer 200 {{\"name\": \"bob\", \"role\": \"user\"}}, "
          f"got {r.status_code} {_json(r)}")

    r = client.get("/admin/stats", headers=_auth(f"Bearer {ANN}"))
    check(r.status_code != 404, "GET /admin/stats answered 404: add the endpoint GET /admin/stats to auth_app")
    check(r.status_code == 200, f"GET /admin/stats as ann (an admin) answered {r.status_code}, not 200")
    want = {"admin": "ann", "users": len(tokens)}
    check(_json(r) == want, f"GET /admin/stats as ann must answer {want}, got {_json(r)}")
    r = client.get("/admin/stats", headers=_auth(f"Bearer {BOB}"))
    check(r.status_code == 403, f"GET /admin/stats as bob (role \"user\") answered {r.status_code}, not 403")

    for path in ("/me", "/admin/stats"):
        for case, header in MALFORMED.items():
            r = client.get(path, headers=_auth(header))
            check(_is_401_bearer(r), _say_401(path, case, r))

    # Swap the settings the way a test would: both endpoints must follow the dependency.
    Settings = type(real)
    try:
        fake = Settings(tokens={"tok-zoe": {"name": "zoe", "role": "admin"}})
    except Exception as exc:  # noqa: BLE001 - the notebook's Settings was changed
        check(False, f"Settings(tokens=...) cannot be built any more ({type(exc).__name__}): run its cell again")
    saved = dict(auth_app.dependency_overrides)
    auth_app.dependency_overrides[get_settings] = lambda: fake
    try:
        r = client.get("/me", headers=_auth("Bearer tok-zoe"))
        check(r.status_code == 200 and _json(r) == {"name": "zoe", "role": "admin"},
              "with auth_app.dependency_overrides[get_settings] giving other tokens, GET /me still used the "
              f"real ones ({r.status_code} {_json(r)}): take the settings with Depends(get_settings), "
              "don't call get_settings() yourself")
        r = client.get("/me", headers=_auth(f"Bearer {ANN}"))
        check(_is_401_bearer(r), "with get_settings overridden by settings that lack tok-ann, GET /me with "
              f"`Bearer {ANN}` answered {r.status_code}: look the token up in the injected settings")
        r = client.get("/admin/stats", headers=_auth("Bearer tok-zoe"))
        want = {"admin": "zoe", "users": 1}
        check(r.status_code == 200 and _json(r) == want,
              f"with get_settings overridden, GET /admin/stats as zoe must answer {want}, got "
              f"{r.status_code} {_json(r)}: take the settings with Depends(get_settings) there too")
    finally:
        auth_app.dependency_overrides.clear()
        auth_app.dependency_overrides.update(saved)

    # require_role is a factory: any role, exactly that role.
    editor_only = require_role("editor")
    check(callable(editor_only), f"require_role(\"editor\") returned {type(editor_only).__name__}, "
          "not a function FastAPI can call: return the inner dependency")
    probe = FastAPI()

    @probe.get("/edit")
    def edit(user: Annotated[Any, Depends(editor_only)]) -> dict:
        return {"name": getattr(user, "name", None)}

    probe.dependency_overrides[get_settings] = lambda: Settings(tokens={
        "tok-eve": {"name": "eve", "role": "editor"},
        "tok-ann": {"name": "ann", "role": "admin"},
    })
    tc = TestClient(probe)
    r = tc.get("/edit", headers=_auth("Bearer tok-eve"))
    check(r.status_code == 200 and _json(r) == {"name": "eve"},
          f"an endpoint with Depends(require_role(\"editor\")) answered {r.status_code} {_json(r)} to an editor: "
          "the dependency must return the current user when user.role == role")
    r = tc.get("/edit", headers=_auth("Bearer tok-ann"))
    check(r.status_code == 403, f"an endpoint with Depends(require_role(\"editor\")) answered {r.status_code} "
          "to an admin, not 403: only the role asked for is let in")
    r = tc.get("/edit")
    check(_is_401_bearer(r), f"an endpoint with Depends(require_role(\"editor\")) answered {r.status_code} "
          "without a token: require_role's dependency must depend on get_current_user (401 first)")


# -- the quiz ---------------------------------------------------------------------------------

QUIZ = section_quiz(
    "1.4",
    item="After completing, you can answer: How do I share a database connection across endpoints? "
         "How do I create a reusable authentication check? "
         "How do I avoid repeating the same setup code in every endpoint?",
    hint="Re-read 1.4.2 (chains, caching) and 1.4.3 (yield dependencies, overrides), then answer again.",
    questions=[
        {
            "id": "share-db-session",
            "question": "How do you share a database session across endpoints?",
            "choices": {
                "a": "Open one connection when the module is imported and use that global in every endpoint",
                "b": "A `yield` dependency that opens a session for each request, yields it, then commits "
                     "or rolls back and closes it; every endpoint takes it with Depends()",
                "c": "Open and close a connection inside each endpoint function",
                "d": "Keep the session on the FastAPI app object and lock it around each request",
            },
            "answer_hash": "96b6a691f8bb139368111b5aecd96469bf419689954cf8dd76411dd4bc42bdca",
            "explanation": "One session per request, made in one place: every endpoint that declares it gets it, "
                           "and the code after `yield` commits, rolls back and closes whatever happened.",
        },
        {
            "id": "reusable-auth",
            "question": "How do you make an authentication check reusable?",
            "choices": {
                "a": "Copy the header check to the top of every endpoint that needs it",
                "b": "Set a global `current_user` variable when someone logs in",
                "c": "A `get_current_user` dependency that answers 401 for a bad token and returns the user; "
                     "endpoints take it as a parameter, or a router lists it in `dependencies=[...]`",
                "d": "Check the token in the response model's validator",
            },
            "answer_hash": "c94ba6883d379c970b1348edf392343a66bac82a0138c2bc72e2a50ddd73498b",
            "explanation": "The check lives in one function; declaring it is what protects an endpoint, and a "
                           "router's `dependencies=[...]` protects every route in it at once.",
        },
        {
            "id": "avoid-repeating",
            "question": "Five endpoints start with the same three lines of setup. What removes the repetition?",
            "choices": {
                "a": "Move the lines into a dependency, and declare it once as an `Annotated[..., Depends(...)]` alias "
                     "(or on the router) that every endpoint uses",
                "b": "Move the lines into a middleware that stores the result in a global",
                "c": "Call the setup once at import time and reuse the result for every request",
            },
            "answer_hash": "8a48fbf82a12941478cfcef12ad37e82295816047f5ccac58fc46829cf5d3056",
            "explanation": "A dependency runs for every request that needs it, with its own validated parameters; "
                           "a global set at import or by middleware is shared by every request at once.",
        },
        {
            "id": "cleanup-order",
            "question": "Dependency B depends on A; both use `yield`. In what order does the code run for one request?",
            "choices": {
                "a": "setup A, setup B, endpoint, teardown A, teardown B",
                "b": "setup A, setup B, endpoint, teardown B, teardown A",
                "c": "setup B, setup A, endpoint, teardown B, teardown A",
                "d": "setup A, teardown A, setup B, teardown B, endpoint",
            },
            "answer_hash": "178cf9f17935c9156698e512b6b1c445664b83eb035782920f80856997046bc4",
            "explanation": "Like nested `with` blocks: what was set up last is torn down first, so B can still use A "
                           "in its clean-up.",
        },
        {
            "id": "per-request-cache",
            "question": "`get_db` is declared by the endpoint and by two of its sub-dependencies. "
                        "How often does FastAPI call it?",
            "choices": {
                "a": "Three times per request",
                "b": "Once, when the app starts; every request reuses that value",
                "c": "Once per request; every place in that request gets the same value "
                     "(unless one says `use_cache=False`)",
            },
            "answer_hash": "b6c490f15e32767f1360a6b017b92781b575abbb2205560d6b1f8aa6b1e6bcd4",
            "explanation": "Within one request a dependency's value is cached, so all three share one session; "
                           "the next request calls it again.",
        },
        {
            "id": "override-in-tests",
            "question": "In a test you want every endpoint to use fake settings instead of `get_settings()`. What do you do?",
            "choices": {
                "a": "`app.dependency_overrides[get_settings] = lambda: Settings(...)`, and clear it afterwards",
                "b": "Edit `get_settings` to return the fake settings while the tests run",
                "c": "Call each endpoint function directly with a `settings=` argument",
                "d": "Set the environment variables; the cached settings pick them up at once",
            },
            "answer_hash": "27a102f501857ed14ee357cd64e0d50584eb0bf1dc3adb49535ed2e2b9abdb48",
            "explanation": "FastAPI looks the dependency up in `dependency_overrides` on every request, so every "
                           "endpoint and sub-dependency that declares get_settings gets the fake one.",
        },
    ],
)
