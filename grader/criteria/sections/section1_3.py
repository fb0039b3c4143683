"""Section 1.3, Pydantic Models & Validation: the notebook's exercise checks and quiz.

Every check works through the learner's live objects: it builds models from good and bad
data at each stated boundary, or sends requests to the app in-process with TestClient.
"""

from typing import Any

from grader.criterion import check
from grader.exercise import exercise, section_quiz

# -- 1.3.chat_request ---------------------------------------------------------------------

_GOOD = {"message": "Hello"}
_HISTORY = [
    {"role": "system", "content": "Answer in one sentence."},
    {"role": "user", "content": "What is FastAPI?"},
    {"role": "assistant", "content": "A Python web framework."},
]


def _build(model: Any, data: dict) -> tuple[Any, list[dict] | None]:
    """(instance, None) when ``data`` is accepted, (None, errors) when it is rejected."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data), None
    except ValidationError as exc:
        return None, exc.errors()


def _accepts(model: Any, data: dict, what: str) -> Any:
    instance, errors = _build(model, data)
    if errors is not None:
        first = errors[0]
        where = ".".join(str(p) for p in first["loc"]) or "the model"
        check(False, f"ChatRequest rejected {what} ({where}: {first['msg']}); it must be accepted")
    return instance


def _rejects(model: Any, data: dict, what: str) -> None:
    _, errors = _build(model, data)
    check(errors is not None, f"ChatRequest accepted {what}; it must raise a ValidationError")


def _short(text: str) -> str:
    return repr(text) if len(text) <= 20 else f"a {len(text)}-character message"


@exercise("1.3.chat_request", "Custom validators with `@field_validator`",
          also=["Creating a class that inherits from `BaseModel`", "Defining fields with type hints",
                "Optional vs required fields", "Default values",
                "Using `Field()` for constraints (min, max, regex)",
                "Model-level validation with `@model_validator`", "Models containing other models",
                "Lists of models", "Optional nested models"],
          uses=["ChatRequest"],
          hint="Field(ge=…, le=…) includes both ends; strip in a @field_validator and measure the "
               "length after stripping; a @model_validator(mode=\"after\") sees the whole messages list.")
def chat_request(ChatRequest):  # noqa: N803 - the learner's class name
    from pydantic import BaseModel

    check(isinstance(ChatRequest, type) and issubclass(ChatRequest, BaseModel),
          "ChatRequest must be a class that inherits from pydantic's BaseModel")
    req = _accepts(ChatRequest, _GOOD, '{"message": "Hello"}')
    for name in ("message", "temperature", "max_tokens", "messages", "response_format"):
        check(hasattr(req, name), f"ChatRequest has no field `{name}`")

    # message: required, stripped, 1..4000 characters after stripping
    _rejects(ChatRequest, {}, "a body without `message`")
    req = _accepts(ChatRequest, {"message": "  \n\tHi there \n"}, "message '  \\n\\tHi there \\n'")
    check(req.message == "Hi there",
          f"message '  \\n\\tHi there \\n' is stored as {req.message!r}; store it stripped: 'Hi there'")
    for text in ("", "   ", "\n\t "):
        _rejects(ChatRequest, {"message": text}, f"message {text!r} (empty after stripping)")
    _accepts(ChatRequest, {"message": "x"}, "a 1-character message")
    _accepts(ChatRequest, {"message": "x" * 4000}, "a 4000-character message")
    _rejects(ChatRequest, {"message": "x" * 4001}, "a 4001-character message")
    padded = "  " + "x" * 4000 + "\n"
    req = _accepts(ChatRequest, {"message": padded}, "4000 characters with whitespace around them "
                   "(the limit counts the stripped text)")
    check(req.message == "x" * 4000, "a padded 4000-character message must be stored without its whitespace")
    _rejects(ChatRequest, {"message": " " + "x" * 4001 + " "}, "4001 characters with whitespace around them")

    # temperature: float, default 0.7, 0.0..2.0 both included
    req = ChatRequest.model_validate(_GOOD)
    check(req.temperature == 0.7, f"temperature defaults to {req.temperature!r}; it must default to 0.7")
    for value in (0.0, 2.0, 1.25):
        req = _accepts(ChatRequest, {**_GOOD, "temperature": value}, f"temperature {value}")
        check(req.temperature == value, f"temperature {value} is stored as {req.temperature!r}")
    for value in (-0.01, 2.01, 5):
        _rejects(ChatRequest, {**_GOOD, "temperature": value}, f"temperature {value} (allowed: 0.0 to 2.0)")

    # max_tokens: optional int, None by default, 1..4096 when given
    req = ChatRequest.model_validate(_GOOD)
    check(req.max_tokens is None, f"max_tokens defaults to {req.max_tokens!r}; without it, it must be None")
    _accepts(ChatRequest, {**_GOOD, "max_tokens": None}, "max_tokens null")
    for value in (1, 4096):
        req = _accepts(ChatRequest, {**_GOOD, "max_tokens": value}, f"max_tokens {value}")
        check(req.max_tokens == value, f"max_tokens {value} is stored as {req.max_tokens!r}")
    for value in (0, 4097, -5):
        _rejects(ChatRequest, {**_GOOD, "max_tokens": value}, f"max_tokens {value} (allowed: 1 to 4096)")

    # messages: a list of Message models, empty by default
    req = ChatRequest.model_validate(_GOOD)
    check(req.messages == [], f"messages defaults to {req.messages!r}; without it, it must be an empty list")
    other = ChatRequest.model_validate(_GOOD)
    check(req.messages is not other.messages, "two ChatRequests share one messages list; each needs its own")
    req = _accepts(ChatRequest, {**_GOOD, "messages": _HISTORY}, "a system, user, assistant history")
    check(len(req.messages) == 3, f"messages holds {len(req.messages)} items after 3 were given")
    first = req.messages[0]
    check(isinstance(first, BaseModel),
          f"messages items are {type(first).__name__}, not models: declare messages as list[Message]")
    check(getattr(first, "role", None) == "system" and getattr(first, "content", None) == "Answer in one sentence.",
          "messages[0] must keep role 'system' and its content")
    for role in ("user", "assistant"):
        _accepts(ChatRequest, {**_GOOD, "messages": [{"role": role, "content": "hi"}]},
                  f"a history of one {role} message")
    for role in ("bot", "User", ""):
        _rejects(ChatRequest, {**_GOOD, "messages": [{"role": role, "content": "hi"}]},
                 f"a message with role {role!r} (allowed: system, user, assistant)")
    _rejects(ChatRequest, {**_GOOD, "messages": [{"role": "user", "content": ""}]}, "a message with empty content")
    _rejects(ChatRequest, {**_GOOD, "messages": [{"role": "user"}]}, "a message without content")
    _rejects(ChatRequest, {**_GOOD, "messages": [{"content": "hi"}]}, "a message without role")

    # the model rule: a system message only as the first item
    _accepts(ChatRequest, {**_GOOD, "messages": _HISTORY[1:]}, "a history without a system message")
    _accepts(ChatRequest, {**_GOOD, "messages": _HISTORY[:1]}, "a history of one system message")
    moved = [_HISTORY[1], _HISTORY[0], _HISTORY[2]]
    _rejects(ChatRequest, {**_GOOD, "messages": moved}, "a system message at messages[1]")
    last = [*_HISTORY, {"role": "system", "content": "Now be rude."}]
    _rejects(ChatRequest, {**_GOOD, "messages": last}, "a second system message at the end of messages")

    # response_format: an optional ResponseFormat model, None when absent or null
    req = ChatRequest.model_validate(_GOOD)
    check(req.response_format is None,
          f"response_format defaults to {req.response_format!r}; without it, it must be None")
    req = _accepts(ChatRequest, {**_GOOD, "response_format": None}, "response_format null")
    check(req.response_format is None, f"response_format null is stored as {req.response_format!r}; expected None")
    for kind in ("text", "json_object"):
        req = _accepts(ChatRequest, {**_GOOD, "response_format": {"type": kind}},
                       f"response_format {{'type': {kind!r}}}")
        got = req.response_format
        check(isinstance(got, BaseModel),
              f"response_format is stored as a {type(got).__name__}, not a model: declare it as "
              "ResponseFormat | None")
        check(getattr(got, "type", None) == kind, f"response_format {{'type': {kind!r}}} is stored with type "
              f"{getattr(got, 'type', None)!r}")
    for bad, what in (({"type": "xml"}, "response_format {'type': 'xml'} (allowed: text, json_object)"),
                      ({}, "response_format {} (no type)"),
                      ("json_object", "response_format 'json_object' (a string, not an object)")):
        _rejects(ChatRequest, {**_GOOD, "response_format": bad}, what)


# -- 1.3.users_api ------------------------------------------------------------------------

_USER = {"username": "ada_l", "email": " Ada@Example.COM ", "password": "correct horse"}


def _client(app: Any):
    from fastapi.testclient import TestClient

    return TestClient(app)


@exercise("1.3.users_api", "Different models for input vs output",
          also=["Using `response_model` parameter"],
          uses=["users_app"],
          hint="Put every rule on UserIn, and declare response_model=UserOut and status_code=201 on "
               "the route, so FastAPI answers 422 before your function runs and drops the password.")
def users_api(users_app):
    from fastapi import FastAPI

    check(isinstance(users_app, FastAPI), "users_app must be a FastAPI() application")
    with _client(users_app) as client:
        r = client.post("/users", json=_USER)
        check(r.status_code != 404, "POST /users answered 404: add a POST /users path operation to users_app")
        check(r.status_code == 201, f"POST /users with a valid user answered {r.status_code}; it must answer 201")
        check("correct horse" not in r.text and "password" not in r.text,
              "the POST /users response contains the password: answer with UserOut (response_model)")
        body = r.json()
        check(isinstance(body, dict) and set(body) == {"id", "username", "email"},
              f"the response body's keys are {sorted(body) if isinstance(body, dict) else body!r}; "
              "they must be exactly id, username, email")
        check(isinstance(body["id"], int) and not isinstance(body["id"], bool),
              f"id is {body['id']!r}; it must be an integer")
        check(body["username"] == "ada_l", f"username came back as {body['username']!r}; send it back as given")
        check(body["email"] == "ada@example.com",
              f"email ' Ada@Example.COM ' came back as {body['email']!r}; store it stripped and lowercased")
        second = client.post("/users", json={**_USER, "username": "grace"})
        check(second.status_code == 201, f"a second valid user answered {second.status_code}; it must answer 201")
        check(second.json().get("id") != body["id"], "two users got the same id; give each new user its own")

        def status(what: str, **changes: Any) -> None:
            data = {k: v for k, v in {**_USER, **changes}.items() if v is not None}
            code = client.post("/users", json=data).status_code
            want = 201 if what == "accepted" else 422
            check(code == want, f"POST /users with {changes or 'that body'} answered {code}; it must answer {want}")

        status("accepted", username="abc")
        status("accepted", username="a" * 30)
        status("accepted", username="user_42")
        status("rejected", username="ab")
        status("rejected", username="a" * 31)
        status("rejected", username="Ada")
        status("rejected", username="ada-l")
        status("rejected", username="ada l")
        status("accepted", email="grace@navy.mil")
        for bad in ("ada@example", "ada.example.com", "a b@example.com", "ada@@example.com", ""):
            status("rejected", email=bad)
        status("accepted", password="x" * 8)
        status("accepted", password="x" * 128)
        status("rejected", password="x" * 7)
        status("rejected", password="x" * 129)
        for field in ("username", "email", "password"):
            data = {k: v for k, v in _USER.items() if k != field}
            code = client.post("/users", json=data).status_code
            check(code == 422, f"POST /users without {field} answered {code}; it must answer 422")


# -- 1.3.error_body -----------------------------------------------------------------------

def _probe_app(handler: Any):
    """A small app with the learner's handler, and a model whose rules produce known errors."""
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from pydantic import BaseModel, Field, field_validator

    class Probe(BaseModel):
        name: str = Field(min_length=2)
        age: int = Field(ge=0)
        email: str

        @field_validator("email")
        @classmethod
        def has_at(cls, value: str) -> str:
            if "@" not in value:
                raise ValueError("an email needs an @")
            return value

    app = FastAPI()

    # Probe is local: this module has no `from __future__ import annotations`, so FastAPI
    # sees the class itself in the annotation below, not a name it cannot resolve.
    @app.post("/probe")
    def probe(body: Probe) -> dict:
        return {"ok": True}

    app.add_exception_handler(RequestValidationError, handler)
    return app, Probe


def _expected_details(model: Any, data: dict) -> list[dict]:
    _, errors = _build(model, data)
    return [{"loc": ["body", *err["loc"]], "msg": err["msg"], "type": err["type"]} for err in errors or []]


@exercise("1.3.error_body", "Using models as request body type hints",
          uses=["validation_error_handler"],
          hint="Build details from exc.errors(), copying only loc (as a list), msg and type, and return "
               "JSONResponse(status_code=422, content={\"error\": {...}}).")
def error_body(validation_error_handler):
    check(callable(validation_error_handler), "validation_error_handler must be a function")
    app, probe = _probe_app(validation_error_handler)
    cases = [
        ("a name too short and a negative age", {"name": "x", "age": -1, "email": "ada@example.com"}),
        ("an empty body", {}),
        ("an email without @ (a field_validator's ValueError)", {"name": "Ada", "age": 36, "email": "nope"}),
    ]
    with _client(app) as client:
        ok = client.post("/probe", json={"name": "Ada", "age": 36, "email": "ada@example.com"})
        check(ok.status_code == 200, f"a valid body answered {ok.status_code} with your handler installed; "
              "the handler must only change invalid requests")
        for what, data in cases:
            r = client.post("/probe", json=data)
            check(r.status_code == 422, f"{what} answered {r.status_code}; the handler must answer 422")
            check(r.headers.get("content-type", "").startswith("application/json"),
                  f"{what} answered with content-type {r.headers.get('content-type')!r}; answer JSON")
            body = r.json()
            check(isinstance(body, dict) and set(body) == {"error"},
                  f"the 422 body's top-level keys are {sorted(body) if isinstance(body, dict) else body!r}; "
                  "it must be exactly {\"error\": {...}}")
            error = body["error"]
            check(isinstance(error, dict), "body[\"error\"] must be an object")
            check(error.get("type") == "validation_error",
                  f"error.type is {error.get('type')!r}; it must be \"validation_error\"")
            check(isinstance(error.get("message"), str) and error["message"].strip(),
                  "error.message must be a non-empty sentence for people")
            details = error.get("details")
            want = _expected_details(probe, data)
            check(isinstance(details, list), f"error.details is {type(details).__name__}; it must be a list")
            check(len(details) == len(want),
                  f"{what} gave {len(details)} item(s) in error.details; it must list all {len(want)} problems")
            for n, (got, expected) in enumerate(zip(details, want, strict=True)):
                check(isinstance(got, dict) and set(got) == {"loc", "msg", "type"},
                      f"error.details[{n}] has keys {sorted(got) if isinstance(got, dict) else got!r}; "
                      "it must have exactly loc, msg and type")
                check(got == expected,
                      f"error.details[{n}] for {what} is {got}; expected {expected} (copied from exc.errors(), "
                      "in the same order)")


# -- the quiz -----------------------------------------------------------------------------

QUIZ = section_quiz(
    "1.3",
    item="After completing, you can answer: How do I ensure a field is between 0 and 100? "
         "How do I validate that an email field is actually an email? "
         "How do I define complex nested JSON structures?",
    questions=[
        {
            "id": "between-0-and-100",
            "question": "How do you make a model accept `score` values from 0 to 100, both included, "
                        "and reject everything else?",
            "choices": {
                "a": "score: int = Field(gt=0, lt=100)",
                "b": "score: int = Field(ge=0, le=100)",
                "c": "score: int, then check the range in the endpoint and raise HTTPException(400)",
                "d": "score: int = Field(default=50), since a default sets the range",
            },
            "answer_hash": "a1712db57637c2b2e58ec96043e31c5fa3a646ad1bad76114f13f635aba8cfb0",
            "explanation": "ge/le include the boundary (0 and 100 pass, -1 and 101 fail); gt/lt exclude it. "
                           "On the model, FastAPI rejects a bad value with 422 and /docs shows the range.",
        },
        {
            "id": "email",
            "question": "How do you make sure an `email` field really holds an email address?",
            "choices": {
                "a": "Type it as `str`: Pydantic recognises fields named email",
                "b": "Field(max_length=254) is enough",
                "c": "Use `EmailStr` (it needs the email-validator package), or a @field_validator that "
                     "checks the shape and raises ValueError",
                "d": "Check it in the endpoint and answer 200 with an error message",
            },
            "answer_hash": "05f0bf63cbc2cbe1d919dd67dec0d19eef0c38a540c967700bc92aecb9c90e03",
            "explanation": "A type hint of str accepts any text. EmailStr checks the syntax with the "
                           "email-validator package; without it, a field_validator with a regular "
                           "expression gives a 422 too. Only a confirmation mail proves the mailbox exists.",
        },
        {
            "id": "nested-json",
            "question": "How do you describe a JSON body with objects inside objects and arrays of objects?",
            "choices": {
                "a": "One model per kind of object, used as field types: `usage: Usage`, "
                     "`messages: list[Message]`, `source: Source | None = None`",
                "b": "A single field `data: dict`, then read the keys by hand",
                "c": "One flat model with field names such as `usage_input_tokens`",
            },
            "answer_hash": "29248ead6ed9807cabece0d8765ffb0f5026b0249aa290dcf127a73fd3ecd964",
            "explanation": "Nested models validate every level, report errors with their path "
                           "(messages.1.role), give you attributes instead of dict keys, and appear "
                           "in /docs as a schema.",
        },
        {
            "id": "response-model-filter",
            "question": "A path operation with `response_model=UserOut` returns a dict that also has a "
                        "`password` key UserOut does not declare. What does the client receive?",
            "choices": {
                "a": "The dict as returned, password included",
                "b": "A 500 error, because the dict has an extra key",
                "c": "Only UserOut's fields: the password is dropped",
            },
            "answer_hash": "95ca7926342fd84c37ea4fb24da122629c459439c59c7eb6aa1149e2a079856c",
            "explanation": "FastAPI validates the return value against the response model and sends only "
                           "its fields, so a separate output model keeps secrets in the server.",
        },
    ],
    hint="Re-read 1.3.2 (Field constraints, field validators), 1.3.3 (nested models) and 1.3.4 "
         "(response_model).",
)
