"""Section 1.1, HTTP & REST API Basics: the auth guard, the notes resource, the quiz.

Both exercises are checked through the learner's live app with an in-process TestClient.
"""

from __future__ import annotations

from urllib.parse import urljoin

from fastapi.testclient import TestClient

from grader.criterion import check
from grader.exercise import exercise, section_quiz

STATUS_CODES = "Can describe what a 401 vs 403 vs 404 error means"
RESTFUL = 'Can describe what makes an API "RESTful"'

# The exercise's given data (the notebook's USERS and REPORTS).
ADMIN, VIEWER, STRANGER = "token-ada", "token-bob", "token-eve"
REPORTS = {1: {"id": 1, "title": "Q1 usage"}, 2: {"id": 2, "title": "Q2 usage"}}
MISSING = 99


class _Client:
    """Requests to the learner's app in-process; a crash names the request that caused it."""

    def __init__(self, app):
        check(app is not None, "the app is None: build it with FastAPI() and give it the routes")
        check(callable(app), f"expected a FastAPI app, got {type(app).__name__}")
        self._client = TestClient(app)

    def request(self, method: str, url: str, **kwargs):
        try:
            return self._client.request(method, url, **kwargs)
        except NotImplementedError:
            raise  # reported as "not done yet"
        except Exception as exc:  # noqa: BLE001 - a bug in the learner's endpoint, said in one line
            check(False, f"{method} {url} crashed the app (a 500): {type(exc).__name__}: {_short(str(exc))}")

    def get(self, url: str, **kwargs):
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs):
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs):
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs):
        return self.request("DELETE", url, **kwargs)


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json(r):
    try:
        return r.json()
    except ValueError:
        return None


# -- exercise 1: 401 vs 403 vs 404 ------------------------------------------------------------

@exercise(
    "1.1.auth-guard",
    STATUS_CODES,
    uses=["reports_app"],
    hint="Check in order: who is asking (401 + WWW-Authenticate: Bearer), may they (403), does it exist (404).",
)
def auth_guard(reports_app):
    client = _Client(reports_app)

    def get(report_id: int, authorization: str | None):
        headers = {"Authorization": authorization} if authorization is not None else {}
        return client.get(f"/reports/{report_id}", headers=headers)

    def who(authorization: str | None) -> str:
        return "without an Authorization header" if authorization is None else f"with Authorization: {authorization}"

    admin = f"Bearer {ADMIN}"
    for report_id, report in REPORTS.items():
        r = get(report_id, admin)
        check(r.status_code == 200,
              f"GET /reports/{report_id} {who(admin)} (an admin) answered {r.status_code}; expected 200")
        check(_json(r) == report,
              f"GET /reports/{report_id} for the admin returned {_short(r.text)!r}; expected the report {report}")

    r = get(MISSING, admin)
    check(r.status_code == 404,
          f"GET /reports/{MISSING} (no such report) for the admin answered {r.status_code}; expected 404")

    viewer = f"Bearer {VIEWER}"
    for report_id, what in ((1, "an existing report"), (MISSING, "a missing report")):
        r = get(report_id, viewer)
        check(r.status_code == 403,
              f"GET /reports/{report_id} ({what}) {who(viewer)}, a valid user who is not an admin, "
              f"answered {r.status_code}; expected 403")

    unknown = [None, f"Bearer {STRANGER}", ADMIN, f"Basic {ADMIN}"]
    reasons = ["no credentials", "a token that is not in USERS", "no `Bearer ` scheme", "the Basic scheme"]
    for authorization, reason in zip(unknown, reasons, strict=True):
        for report_id in (1, MISSING):
            r = get(report_id, authorization)
            check(r.status_code == 401,
                  f"GET /reports/{report_id} {who(authorization)} ({reason}) answered {r.status_code}; expected 401")
            scheme = r.headers.get("www-authenticate", "")
            check(scheme.split(" ")[0].lower() == "bearer",
                  f"the 401 for GET /reports/{report_id} {who(authorization)} has "
                  + (f"WWW-Authenticate: {scheme}" if scheme else "no WWW-Authenticate header")
                  + "; it must say `Bearer`")


# -- exercise 2: a RESTful notes resource -------------------------------------------------------

@exercise(
    "1.1.notes",
    RESTFUL,
    uses=["make_notes_app"],
    hint="POST /notes -> 201 + Location; GET/PUT/DELETE /notes/{id} -> 200/200/204, or 404 when there is no such note.",
)
def notes(make_notes_app):
    app = make_notes_app()
    check(app is not None, "make_notes_app() returned None; it must return the FastAPI app it built")
    client = _Client(app)

    def listed() -> list:
        r = client.get("/notes")
        check(r.status_code == 200, f"GET /notes answered {r.status_code}; expected 200")
        body = _json(r)
        check(isinstance(body, list), f"GET /notes returned {_short(r.text)!r}; expected a JSON list of notes")
        return body

    check(listed() == [], "GET /notes on a new app is not an empty list; each make_notes_app() starts with no notes")

    created = []
    for text in ("buy milk", "call the dentist"):
        r = client.post("/notes", json={"text": text})
        check(r.status_code == 201, f"POST /notes answered {r.status_code}; expected 201 Created")
        note = _json(r)
        check(isinstance(note, dict) and note.get("text") == text and isinstance(note.get("id"), int),
              f"POST /notes with {{\"text\": {text!r}}} returned {_short(r.text)!r}; "
              f"expected the new note {{\"id\": <int>, \"text\": {text!r}}}")
        location = r.headers.get("location")
        check(location, "the 201 from POST /notes has no Location header; it must point at the new note")
        check(urljoin("http://testserver/notes", location) == f"http://testserver/notes/{note['id']}",
              f"the 201 from POST /notes has Location: {location}; expected /notes/{note['id']}")
        r = client.get(location)
        check(r.status_code == 200 and _json(r) == note,
              f"GET {location} (the Location of the new note) answered {r.status_code} {_short(r.text)!r}; "
              f"expected 200 with the note")
        created.append(note)
    first, second = created
    check(first["id"] != second["id"], f"two POSTs both created id {first['id']}; each note needs its own id")
    check(listed() == created, f"GET /notes returned {listed()}; expected the two notes, oldest first: {created}")

    r = client.get(f"/notes/{first['id']}")
    check(r.status_code == 200 and _json(r) == first,
          f"GET /notes/{first['id']} answered {r.status_code} {_short(r.text)!r}; expected 200 with {first}")
    missing = max(first["id"], second["id"]) + 1000
    r = client.get(f"/notes/{missing}")
    check(r.status_code == 404, f"GET /notes/{missing} (no such note) answered {r.status_code}; expected 404")

    edited = {"id": first["id"], "text": "buy oat milk"}
    states = []
    for attempt in ("", " again"):
        r = client.put(f"/notes/{first['id']}", json={"text": edited["text"]})
        check(r.status_code == 200 and _json(r) == edited,
              f"PUT /notes/{first['id']}{attempt} answered {r.status_code} {_short(r.text)!r}; expected 200 with {edited}")
        states.append(listed())
    check(states[0] == [edited, second],
          f"after PUT /notes/{first['id']}, GET /notes returned {states[0]}; expected {[edited, second]}")
    check(states[1] == states[0], "repeating the same PUT changed the notes again; PUT must be idempotent")
    r = client.put(f"/notes/{missing}", json={"text": "ghost"})
    check(r.status_code == 404, f"PUT /notes/{missing} (no such note) answered {r.status_code}; expected 404")
    check(listed() == [edited, second], f"PUT /notes/{missing} (no such note) changed the list; it must not create notes")

    r = client.delete(f"/notes/{second['id']}")
    check(r.status_code == 204, f"DELETE /notes/{second['id']} answered {r.status_code}; expected 204 No Content")
    check(r.content == b"", f"the 204 from DELETE /notes/{second['id']} has a body {_short(r.text)!r}; it must be empty")
    r = client.get(f"/notes/{second['id']}")
    check(r.status_code == 404, f"GET /notes/{second['id']} after deleting it answered {r.status_code}; expected 404")
    check(listed() == [edited], f"after DELETE /notes/{second['id']}, GET /notes returned {listed()}; expected {[edited]}")
    r = client.delete(f"/notes/{second['id']}")
    check(r.status_code == 404,
          f"DELETE /notes/{second['id']} a second time answered {r.status_code}; expected 404 (it is already gone)")

    other = _Client(make_notes_app())
    r = other.get("/notes")
    check(r.status_code == 200 and _json(r) == [],
          f"a second make_notes_app() already lists {_short(r.text)!r}; each app needs its own storage, "
          "created inside make_notes_app()")


# -- the quiz: the four checklist items --------------------------------------------------------

QUIZ = section_quiz(
    "1.1",
    item='Can explain GET vs POST, 401 vs 403 vs 404, path vs query vs body, and what makes an API "RESTful"',
    hint="Question n goes with part n of the notebook: re-run that part's measurements, then answer.",
    questions=[
        {
            "id": "1.1.get-vs-post",
            "item": "Can explain the difference between GET and POST",
            "question": "A client sends a request, the connection drops before the answer arrives, and the "
                        "client sends it again. Which statement is right?",
            "choices": {
                "a": "Resending GET and POST is equally harmless: HTTP servers drop duplicate requests.",
                "b": "Resending a GET is harmless because GET only reads; resending a POST may do the work "
                     "twice (two notes created, two LLM calls paid for).",
                "c": "Resending a POST is harmless because its body is the same both times; resending a GET "
                     "may change data.",
                "d": "Neither may ever be resent; only the user can decide.",
            },
            "answer_hash": "a95b92561cff4ee5b07059f634feddb9aa99c06bd8babeb5eb93a374b3936320",
            "explanation": "GET is safe (it changes nothing on the server), so repeating it is harmless; POST is "
                           "neither safe nor idempotent: the measurement created a new task each time.",
        },
        {
            "id": "1.1.401-403-404",
            "item": "Can describe what a 401 vs 403 vs 404 error means",
            "question": "Bob sends GET /admin/reports/7 with a valid token, but his role is viewer and the "
                        "endpoint is for admins only; report 7 exists. Which status says exactly what happened?",
            "choices": {
                "a": "401 Unauthorized, with a WWW-Authenticate header",
                "b": "404 Not Found",
                "c": "403 Forbidden",
                "d": "400 Bad Request",
            },
            "answer_hash": "13b37aaae5c4afa3898b94a0f4908bfe57057d5fbca4b98d0296f9d31d2b388e",
            "explanation": "401: the server does not know who you are (missing or bad credentials); 403: it "
                           "knows you, and you may not; 404: nothing is at that URL. Bob is known but not allowed.",
        },
        {
            "id": "1.1.path-query-body",
            "item": "Can explain path parameters vs query parameters vs request body",
            "question": 'In POST /users/7/notes?draft=true with the JSON body {"text": "hi"}, where is each value?',
            "choices": {
                "a": "7 is a path parameter, draft is a query parameter, text is in the request body",
                "b": "7 and draft are query parameters, text is a header",
                "c": "7 is a query parameter, draft is a path parameter, text is in the request body",
                "d": "all three are in the request body, because it is a POST",
            },
            "answer_hash": "5e0db175449760399d56caf49bcfab05b44cf23f3d4fb8a011729e5b6beadf2b",
            "explanation": "The path (before ?) names the resource, here user 7's notes; the query string "
                           "(after ?) carries options; the body carries the data sent, as its Content-Type says.",
        },
        {
            "id": "1.1.restful",
            "item": 'Can describe what makes an API "RESTful"',
            "question": "Which of these makes an API RESTful?",
            "choices": {
                "a": "One endpoint, POST /api, whose body has an \"action\" field naming what to do",
                "b": "GET /deleteTask?id=3, so that deleting is one click on a link",
                "c": "Answering 200 with {\"ok\": false} on every error, so clients check only one code",
                "d": "URLs that name resources (/tasks/3), the standard methods for acting on them, and status "
                     "codes that say how it went",
            },
            "answer_hash": "c1d67491121d4f76ca5802f039e6c147b89363cc95961bad5563d71255958764",
            "explanation": "REST puts the nouns in the URL and the verbs in the method, and lets status codes "
                           "carry the outcome; a GET that deletes is unsafe, and 200-for-errors hides failures.",
        },
    ],
)
