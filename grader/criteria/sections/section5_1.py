"""Section 5.1, Authentication & Authorization: the exercises' checks and the quiz.

The checks forge their own tokens (expired, tampered, unsigned, wrongly keyed, another
algorithm, claims missing) with PyJWT and a secret of their own in JWT_SECRET, then read what
the learner's functions return or what the learner's app answers: behaviour, never code.
"""

import base64
import json
import os
import secrets
import time
import warnings
from contextlib import contextmanager
from typing import Any

from grader.criterion import check
from grader.exercise import exercise, section_quiz


@contextmanager
def _secret(value: str):
    """JWT_SECRET set to the check's own value for the duration, then put back."""
    saved = os.environ.get("JWT_SECRET")
    os.environ["JWT_SECRET"] = value
    try:
        yield value
    finally:
        if saved is None:
            os.environ.pop("JWT_SECRET", None)
        else:
            os.environ["JWT_SECRET"] = saved


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _forged(secret: str, claims: dict) -> dict[str, str]:
    """Every kind of token that must be refused, by what is wrong with it."""
    import jwt

    now = int(time.time())
    with warnings.catch_warnings():  # HS512 with a 43-byte key: fine for a forged token
        warnings.simplefilter("ignore")
        hs512 = jwt.encode(claims, secret, algorithm="HS512")
    good = jwt.encode(claims, secret, algorithm="HS256")
    h, _, s = good.split(".")
    return {
        "an expired token (exp 2 minutes ago)": jwt.encode({**claims, "exp": now - 120}, secret, algorithm="HS256"),
        "a tampered token (payload changed, old signature)": f"{h}.{_b64({**claims, 'sub': 'mallory', 'role': 'admin'})}.{s}",
        "an unsigned token (alg: none)": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "a token signed with another key": jwt.encode(claims, secrets.token_urlsafe(32), algorithm="HS256"),
        "a token signed with HS512 (not HS256)": hs512,
        "a token without exp": jwt.encode({k: v for k, v in claims.items() if k != "exp"}, secret, algorithm="HS256"),
        "a token without sub": jwt.encode({k: v for k, v in claims.items() if k != "sub"}, secret, algorithm="HS256"),
        "a string that is no JWT": "not-a.jwt",
    }


# -- 5.1.tokens -------------------------------------------------------------------------------


@exercise("5.1.tokens", "Creating tokens (encoding)", uses=["create_token", "verify_token"],
          also=["Verifying tokens (decoding)", "Token expiration", "Never hardcode secrets"],
          hint="jwt.encode(claims, os.environ['JWT_SECRET'], algorithm='HS256'); in verify_token, jwt.decode("
               "..., algorithms=['HS256'], options={'require': ['exp', 'sub']}) inside try/except jwt.InvalidTokenError")
def tokens(create_token, verify_token):
    import jwt

    check(callable(create_token) and callable(verify_token), "create_token and verify_token must both be functions")
    with _secret(secrets.token_urlsafe(32)) as secret:
        before = int(time.time())
        token = create_token("alice", "premium", 60)
        check(isinstance(token, str) and token.count(".") == 2,
              f"create_token returned {type(token).__name__} {str(token)[:40]!r}, not a JWT string")
        try:
            claims = jwt.decode(token, secret, algorithms=["HS256"], options={"verify_exp": False})
        except jwt.InvalidTokenError:
            check(False, "create_token's token does not verify with HS256 and the secret in os.environ['JWT_SECRET']: "
                  "read the secret when the function is called, never a literal")
        check(claims.get("sub") == "alice" and claims.get("tier") == "premium",
              f"create_token('alice', 'premium', 60) must carry sub='alice' and tier='premium', got {claims}")
        exp, iat = claims.get("exp"), claims.get("iat")
        check(isinstance(exp, int) and before + 55 <= exp <= int(time.time()) + 65,
              f"create_token(..., ttl_s=60) must set exp to now + 60 (integer seconds), got exp={exp!r}")
        check(isinstance(iat, int) and before - 5 <= iat <= int(time.time()) + 5,
              f"create_token must set iat to now (integer seconds), got iat={iat!r}")
        short = jwt.decode(create_token("bob", "free", 5), secret, algorithms=["HS256"])
        check(before <= short["exp"] <= int(time.time()) + 10,
              f"create_token(..., ttl_s=5) set exp {short['exp'] - before} s ahead, not 5: use ttl_s")

        got = verify_token(token)
        check(isinstance(got, dict) and got.get("sub") == "alice" and got.get("tier") == "premium",
              f"verify_token(a valid token) must return its claims, got {got!r}")
        now = int(time.time())
        valid = jwt.encode({"sub": "carol", "tier": "free", "exp": now + 300}, secret, algorithm="HS256")
        got = verify_token(valid)
        check(isinstance(got, dict) and got.get("sub") == "carol",
              f"verify_token(a valid HS256 token made by the check) must return its claims, got {got!r}")

        for case, bad in _forged(secret, {"sub": "alice", "tier": "free", "exp": now + 300}).items():
            try:
                got = verify_token(bad)
            except Exception as exc:  # noqa: BLE001 - the exercise says None, never an exception
                check(False, f"verify_token({case}) raised {type(exc).__name__}: catch jwt.InvalidTokenError "
                      "and return None")
            check(got is None, f"verify_token({case}) returned {got!r}, not None")

    with _secret(secrets.token_urlsafe(32)):
        got = verify_token(valid)
        check(got is None, "verify_token accepted a token after JWT_SECRET changed: read os.environ['JWT_SECRET'] "
              "when the function is called")


# -- 5.1.protect ------------------------------------------------------------------------------


def _say_401(path: str, case: str, r: Any) -> str:
    if r.status_code != 401:
        return f"GET {path} with {case} answered {r.status_code}, not 401"
    return f"GET {path} with {case} answered 401 without the header `WWW-Authenticate: Bearer`"


def _json(r: Any) -> Any:
    try:
        return r.json()
    except ValueError:
        return r.text


@exercise("5.1.protect", "Protecting endpoints with `Depends()`", uses=["auth_app"],
          also=["Creating auth dependency", "`HTTPBearer` security scheme"],
          hint="read the token with Depends(HTTPBearer(auto_error=False)); raise HTTPException(401, ..., "
               "headers={'WWW-Authenticate': 'Bearer'}) for every bad or missing token; 403 only for a valid "
               "token whose role is not admin")
def protect(auth_app):
    import jwt
    from fastapi.testclient import TestClient

    check(callable(auth_app) and hasattr(auth_app, "dependency_overrides"),
          f"auth_app is {type(auth_app).__name__}, not a FastAPI app: auth_app = FastAPI()")
    client = TestClient(auth_app, raise_server_exceptions=False)
    with _secret(os.environ.get("JWT_SECRET") or secrets.token_urlsafe(32)) as secret:
        now = int(time.time())

        def bearer(claims: dict) -> dict:
            return {"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}"}

        ann = bearer({"sub": "ann", "role": "admin", "exp": now + 300})
        bob = bearer({"sub": "bob", "role": "user", "exp": now + 300})
        cid = bearer({"sub": "cid", "exp": now + 300})

        r = client.get("/me", headers=ann)
        check(r.status_code != 404, "GET /me answered 404: add the endpoint GET /me to auth_app")
        check(r.status_code == 200, f"GET /me with a valid admin token answered {r.status_code}, not 200")
        check(_json(r) == {"sub": "ann", "role": "admin"},
              f"GET /me for ann (admin) must answer {{\"sub\": \"ann\", \"role\": \"admin\"}}, got {_json(r)}")
        r = client.get("/me", headers=bob)
        check(r.status_code == 200 and _json(r) == {"sub": "bob", "role": "user"},
              f"GET /me for bob must answer 200 {{\"sub\": \"bob\", \"role\": \"user\"}}, got {r.status_code} {_json(r)}")
        r = client.get("/me", headers=cid)
        check(r.status_code == 200 and _json(r) == {"sub": "cid", "role": "user"},
              f"GET /me with a token without a role claim must answer 200 {{\"sub\": \"cid\", \"role\": \"user\"}}, "
              f"got {r.status_code} {_json(r)}")

        r = client.get("/admin/stats", headers=ann)
        check(r.status_code != 404, "GET /admin/stats answered 404: add the endpoint GET /admin/stats to auth_app")
        check(r.status_code == 200 and _json(r) == {"admin": "ann"},
              f"GET /admin/stats for ann (admin) must answer 200 {{\"admin\": \"ann\"}}, got {r.status_code} {_json(r)}")
        for who, headers in (("bob (role \"user\")", bob), ("cid (no role)", cid)):
            r = client.get("/admin/stats", headers=headers)
            check(r.status_code == 403, f"GET /admin/stats for {who} answered {r.status_code}, not 403")

        cases = {"no Authorization header": {}, "`Authorization: Basic ...`": {"Authorization": "Basic YW5uOnB3"}}
        cases.update({case: {"Authorization": f"Bearer {tok}"}
                      for case, tok in _forged(secret, {"sub": "ann", "role": "admin", "exp": now + 300}).items()})
        for path in ("/me", "/admin/stats"):
            for case, headers in cases.items():
                r = client.get(path, headers=headers)
                ok = r.status_code == 401 and r.headers.get("www-authenticate", "").strip().lower().startswith("bearer")
                check(ok, _say_401(path, case, r))

    schema = auth_app.openapi()
    schemes = (schema.get("components") or {}).get("securitySchemes") or {}
    bearers = {name for name, s in schemes.items()
               if s.get("type") == "http" and str(s.get("scheme", "")).lower() == "bearer"}
    check(bearers, "auth_app's OpenAPI schema declares no HTTP bearer security scheme (so /docs has no Authorize "
          "button): read the token with a dependency on HTTPBearer(auto_error=False)")
    for path in ("/me", "/admin/stats"):
        operation = (schema.get("paths") or {}).get(path, {}).get("get", {})
        required = {name for requirement in operation.get("security", []) for name in requirement}
        check(required & bearers, f"GET {path} in auth_app's OpenAPI schema requires no bearer scheme: its "
              "dependency chain must include the HTTPBearer dependency")


# -- 5.1.api_key ------------------------------------------------------------------------------


@contextmanager
def _env(name: str, value: str | None):
    """os.environ[name] set to value (or removed, for None) for the duration, then put back."""
    saved = os.environ.get(name)
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
    try:
        yield value
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


@exercise("5.1.api_key", "Environment variables for API keys", uses=["load_settings"],
          hint="read os.environ.get('ANTHROPIC_API_KEY') inside load_settings(), raise a RuntimeError when it is "
               "missing or empty, and keep it in a SecretStr field anthropic_api_key")
def api_key(load_settings):
    check(callable(load_settings), "load_settings must be a function: def load_settings() -> ProviderSettings")
    for n in (1, 2):
        with _env("ANTHROPIC_API_KEY", f"sk-ant-check{n}-{secrets.token_hex(12)}") as key:
            settings = load_settings()
            field = getattr(settings, "anthropic_api_key", None)
            check(field is not None, f"load_settings() returned {type(settings).__name__} without an "
                  "anthropic_api_key field")
            check(hasattr(field, "get_secret_value"),
                  f"anthropic_api_key is {type(field).__name__}, not SecretStr: a plain string shows in reprs and logs")
            check(field.get_secret_value() == key,
                  "anthropic_api_key does not hold the value of the environment variable ANTHROPIC_API_KEY at the "
                  "time load_settings() was called" + (" (the check changed it between two calls)" if n == 2 else ""))
            shown = f"{settings!r} {settings!s} {field!r} {field!s}"
            check(key not in shown, "the key shows in repr() or str() of the settings: keep it in a SecretStr")
    for value, label in ((None, "is not set"), ("", "is empty")):
        with _env("ANTHROPIC_API_KEY", value):
            try:
                got = load_settings()
            except RuntimeError:
                continue
            except Exception as exc:  # noqa: BLE001 - any other exception is named in the message
                check(False, f"load_settings() raised {type(exc).__name__} when ANTHROPIC_API_KEY {label}, "
                      "not a RuntimeError with a message saying what to set")
            check(False, f"load_settings() returned {type(got).__name__} when ANTHROPIC_API_KEY {label}: "
                  "fail loudly (raise a RuntimeError), never fall back to a default key")


# -- 5.1.cors ---------------------------------------------------------------------------------

FRONT_END = "http://localhost:5173"


@exercise("5.1.cors", "CORS configuration", uses=["build_cors_app"],
          hint="app.add_middleware(CORSMiddleware, allow_origins=[origin], allow_methods=['GET', 'POST'], "
               "allow_headers=['Authorization', 'Content-Type'], allow_credentials=True); never '*'")
def cors(build_cors_app):
    from fastapi.testclient import TestClient

    check(callable(build_cors_app), "build_cors_app must be a function: def build_cors_app(origin: str) -> FastAPI")
    for origin in (FRONT_END, f"https://app-{secrets.token_hex(4)}.example"):
        app = build_cors_app(origin)
        check(app is not None and callable(app), "build_cors_app returned no app: return the FastAPI app")
        client = TestClient(app, raise_server_exceptions=False)
        r = client.options("/me", headers={"Origin": origin, "Access-Control-Request-Method": "GET",
                                           "Access-Control-Request-Headers": "Authorization"})
        check(r.status_code == 200 and r.headers.get("access-control-allow-origin") == origin,
              f"a preflight from {origin} (the origin given to build_cors_app) answered {r.status_code} with "
              f"Access-Control-Allow-Origin {r.headers.get('access-control-allow-origin')!r}, not 200 and {origin!r}")
        check("authorization" in r.headers.get("access-control-allow-headers", "").lower(),
              f"a preflight from {origin} asking to send Authorization got Access-Control-Allow-Headers "
              f"{r.headers.get('access-control-allow-headers')!r}: allow the Authorization header")
        check(r.headers.get("access-control-allow-credentials") == "true",
              f"a preflight from {origin} got no Access-Control-Allow-Credentials: true: allow_credentials=True")
        r = client.get("/me", headers={"Origin": origin})
        check(r.status_code == 200 and r.headers.get("access-control-allow-origin") == origin,
              f"GET /me from {origin} answered {r.status_code} with Access-Control-Allow-Origin "
              f"{r.headers.get('access-control-allow-origin')!r}, not 200 and {origin!r}")
        for other in ("https://evil.example", "http://localhost:5174"):
            r = client.options("/me", headers={"Origin": other, "Access-Control-Request-Method": "GET",
                                               "Access-Control-Request-Headers": "Authorization"})
            allowed = r.headers.get("access-control-allow-origin")
            check(r.status_code != 200 and allowed not in ("*", other),
                  f"a preflight from {other} (not the allowed origin) answered {r.status_code} with "
                  f"Access-Control-Allow-Origin {allowed!r}: list only the given origin, never '*'")
            r = client.get("/me", headers={"Origin": other})
            allowed = r.headers.get("access-control-allow-origin")
            check(allowed not in ("*", other),
                  f"GET /me from {other} got Access-Control-Allow-Origin {allowed!r}: a browser would let that "
                  "site's scripts read the answer")


# -- the quiz ---------------------------------------------------------------------------------

QUIZ = section_quiz(
    "5.1",
    item="After completing, you can answer: How do I protect my API endpoints from unauthorized access? "
         "How do I extract user information from a JWT? How do I handle expired tokens?",
    hint="Re-read 5.1.1 (verifying, expiration) and 5.1.2 (the auth dependency), then answer again.",
    questions=[
        {
            "id": "jwt-parts",
            "item": "What is a JWT (header, payload, signature)",
            "question": "A client sends `Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsInRpZXIiOiJmcmVlIn0"
                        ".<signature>`. Which statement about this HS256 token is true?",
            "choices": {
                "a": "The payload is encrypted with the server's secret: only the server can read that sub is alice",
                "b": "Anyone can base64url-decode the header and payload and read sub and tier; the signature, an "
                     "HMAC of `header.payload` with the server's secret, is what makes any change detectable",
                "c": "The signature part carries the server's secret, so whoever holds the token can sign new ones",
                "d": "The header holds the user's identity and the payload holds the key used to verify it",
            },
            "answer_hash": "98011469e2ba14183437bb5516eae49ddcca706dc89c803aaa87528d6a45d6fb",
            "explanation": "Header and payload are only encoded, so never put a secret in them; the signature is "
                           "a keyed hash over both, which a holder cannot recompute without the secret.",
        },
        {
            "id": "refresh-strategy",
            "item": "Token refresh strategies",
            "question": "Your mobile app's access tokens last 15 minutes. Users complain about logging in every 15 "
                        "minutes, and security wants a stolen token to be worth little. What do you do?",
            "choices": {
                "a": "Make access tokens last 30 days, so users log in once a month",
                "b": "Keep the user's password in the app and log in again on every 401",
                "c": "Keep short access tokens and add a long-lived refresh token, sent only to /token/refresh "
                     "and marked by a `type` claim so neither is accepted in the other's place; store refresh "
                     "token ids server-side to revoke them",
                "d": "Accept expired access tokens with a leeway of a day",
            },
            "answer_hash": "0176ccbcf63bccf308f68a8f91f2b4cd5f04aeeca4155d90680dd4599d0485b9",
            "explanation": "The access token that travels with every request stays short-lived; the refresh token "
                           "goes to one endpoint only and can be revoked, so a long session needs no long access token.",
        },
        {
            "id": "protect-endpoints",
            "question": "How do you protect API endpoints from unauthorized access?",
            "choices": {
                "a": "Hide the endpoints from /docs so nobody finds them",
                "b": "An auth dependency that verifies the bearer token (401 + WWW-Authenticate: Bearer if it "
                     "cannot) and returns the user; endpoints declare it with Depends(), role checks answer 403",
                "c": "Configure CORS so that only your front-end's origin can call the API",
                "d": "Check the token inside each endpoint and return 200 with an error message",
            },
            "answer_hash": "ff8ff930592c966014b1bed919612a0c62d8274bc132148a73eecb00eab08488",
            "explanation": "The dependency is the one place that decides; declaring it is what protects a route. "
                           "CORS only tells browsers which pages may read answers: curl ignores it.",
        },
        {
            "id": "user-from-jwt",
            "question": "How do you get the user's information out of a JWT?",
            "choices": {
                "a": "base64url-decode the payload: the claims are right there",
                "b": "Decrypt it with the secret; until then the payload is unreadable",
                "c": "jwt.decode(token, secret, algorithms=[\"HS256\"], options={\"require\": [\"exp\", \"sub\"]}) "
                     "and read the claims it returns, e.g. claims[\"sub\"]",
                "d": "jwt.decode(token, options={\"verify_signature\": False}), then look the user up",
            },
            "answer_hash": "394e4fd2ee71ed3e93f9a973d4b24652c9b5b0f8169acd1e3a5a4590cdbcc314",
            "explanation": "Decoding by hand reads claims anyone could have written; only jwt.decode with the "
                           "signature checked and the algorithm pinned gives claims you can trust.",
        },
        {
            "id": "expired-token",
            "question": "A client sends an access token whose `exp` has passed. What should happen?",
            "choices": {
                "a": "jwt.decode raises ExpiredSignatureError; answer 401 with WWW-Authenticate: Bearer, and the "
                     "client gets a new access token from the refresh endpoint",
                "b": "Answer 403: the user is known, only the token is old",
                "c": "Raise the leeway until the token is accepted again",
                "d": "Accept it and issue a new token in the response",
            },
            "answer_hash": "84ca5ee6c7d8d1e27e09b17d380d148aa24303dd1fea797fe02e84ec7b762754",
            "explanation": "An expired token proves nothing any more: 401 says 'authenticate again'; a refresh "
                           "token (long-lived, one endpoint only) gets a fresh short-lived access token.",
        },
        {
            "id": "pin-algorithm",
            "question": "Why pass `algorithms=[\"HS256\"]` to jwt.decode?",
            "choices": {
                "a": "It makes decoding faster",
                "b": "It sets the algorithm of the tokens you create",
                "c": "It is optional: the token's header already says which algorithm to use",
                "d": "The header is written by whoever sent the token; pinning stops `alg: none` and other "
                     "algorithms from being accepted",
            },
            "answer_hash": "0e4566b9dc6dbdd291478df7bdb2a3e513ea7cfba6e2dd6e6d5246c055e9a71e",
            "explanation": "Trusting the token's own `alg` lets an attacker choose how (or whether) it is checked; "
                           "the server decides the algorithm, not the token.",
        },
    ],
)
