"""A tiny section for the grader's own tests (not part of the course): section 9.1."""

from grader.criterion import check
from grader.exercise import exercise, section_quiz


@exercise("9.1.add", "Write `add(a, b)`", uses=["add"], hint="return the sum of a and b")
def add_works(add):
    check(add(2, 3) == 5, f"add(2, 3) returned {add(2, 3)!r}, not 5")


@exercise("9.1.hello", "A FastAPI app with GET /hello", uses=["app"], hint="add @app.get('/hello')")
def hello_route(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        r = client.get("/hello")
    check(r.status_code == 200, f"GET /hello answered {r.status_code}, not 200")
    check(r.json() == {"hello": "world"}, f"GET /hello answered {r.json()!r}")


@exercise("9.1.reply", "Ask the simulator for a reply", uses=["reply"], hint="call the SDK in the cell above")
def got_reply(reply):
    check(isinstance(reply, str) and reply.strip(), "reply should be the text of the model's answer")


@exercise("9.1.wait", "A check with a short timeout", uses=["wait"], hint="return quickly", timeout=2)
def waits(wait):
    wait()


QUIZ = section_quiz(
    "9.1",
    item="You can answer the demo quiz",
    questions=[
        {"id": "two-plus-two", "question": "2 + 2?", "choices": {"a": "3", "b": "4"},
         "answer_hash": "d0001488acefc83214e6ae39908c3b584567d206a264ef261bc56ad28f74b3ed", "explanation": "Four."},
        {"id": "http-get", "question": "Which method reads?", "choices": {"a": "GET", "b": "POST"},
         "answer_hash": "5bde835a8033e08ec0e84de803aeacf335ce75c67574add1f9b4951a6624c4b0", "explanation": "GET reads."},
    ],
    hint="read the explanations",
)
