"""Section 1.2, FastAPI Core Concepts: the notebook's exercise checks and quiz.

Every check works through the learner's live objects: it builds apps and sends requests
to them in-process with TestClient, at each boundary the exercise text states.
"""

from __future__ import annotations

from typing import Any

from grader.criterion import check
from grader.exercise import exercise, section_quiz


def _client(app: Any, name: str) -> Any:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    check(app is not None, f"{name} is None: it must be a FastAPI app")
    check(isinstance(app, FastAPI), f"{name} is a {type(app).__name__}, not a FastAPI app")
    return TestClient(app)


def _json(r: Any) -> Any:
    try:
        return r.json()
    except ValueError:
        return r.text


# -- helpers of 1.2.quote and 1.2.items_api -----------------------------------------------

_PEN = {"name": "Pen", "price": 1.5}
_INK = {"name": "Ink", "price": 3.25, "description": "blue"}


def _why(r: Any) -> str:
    """`` (body.price: Field required)`` for a 422 from FastAPI, else ""."""
    body = _json(r)
    if r.status_code == 422 and isinstance(body, dict) and isinstance(body.get("detail"), list) and body["detail"]:
        first = body["detail"][0]
        if isinstance(first, dict):
            return f" ({'.'.join(str(p) for p in first.get('loc', []))}: {first.get('msg')})"
    return ""


def _ids(client: Any, query: str) -> list:
    r = client.get("/items" + query)
    check(r.status_code == 200, f"GET /items{query} answered {r.status_code}; expected 200")
    body = _json(r)
    check(isinstance(body, list), f"GET /items{query} returned {body!r}; expected a JSON list of items")
    check(all(isinstance(i, dict) for i in body), f"GET /items{query} returned a list of non-objects: {body!r}")
    return [i.get("id") for i in body]


def _status(client: Any, method: str, url: str, expected: int, why: str, **kwargs: Any) -> Any:
    r = client.request(method, url, **kwargs)
    check(r.status_code == expected, f"{method} {url} {why} answered {r.status_code}; expected {expected}")
    return r


# -- 1.2.quote (in 1.2.3) ---------------------------------------------------------------


@exercise("1.2.quote", "Multiple body parameters", uses=["quote_app"],
          hint="three parameters: product: Product, customer: Customer and quantity: int = Body(ge=1); "
               "the body is then {\"product\": {…}, \"customer\": {…}, \"quantity\": n}")
def quote(quote_app):
    client = _client(quote_app, "quote_app")
    for product, user, quantity in [({"name": "Pen", "price": 1.5}, "ada", 4),
                                    ({"name": "Ink", "price": 0.1}, "bob", 3)]:
        body = {"product": product, "customer": {"username": user}, "quantity": quantity}
        r = client.post("/quote", json=body)
        check(r.status_code != 404, "POST /quote answered 404: add the path operation POST /quote to quote_app")
        check(r.status_code == 200, f"POST /quote with {body} answered {r.status_code}{_why(r)}; expected 200")
        want = {"customer": user, "product": product["name"], "quantity": quantity,
                "total": round(product["price"] * quantity, 2)}
        check(_json(r) == want, f"POST /quote with {body} returned {_json(r)!r}; expected {want!r}")

    good = {"product": {"name": "Pen", "price": 1.5}, "customer": {"username": "ada"}, "quantity": 2}
    for why, body in [("without `quantity`", {"product": good["product"], "customer": good["customer"]}),
                      ("with quantity 0", {**good, "quantity": 0}),
                      ("with quantity \"many\"", {**good, "quantity": "many"}),
                      ("without `customer`", {"product": good["product"], "quantity": 2}),
                      ("with a product without `price`", {**good, "product": {"name": "Pen"}}),
                      ("with the bare product as the whole body", good["product"])]:
        _status(client, "POST", "/quote", 422, why, json=body)


# -- 1.2.items_api ------------------------------------------------------------------------


@exercise("1.2.items_api", "Combining path and query parameters",
          also=["Creating a FastAPI app instance",
                "`@app.get()`, `@app.post()`, `@app.put()`, `@app.delete()` decorators",
                "Path parameters: `/items/{item_id}`",
                "Query parameters: `/items?skip=0&limit=10`", "Accepting JSON request bodies",
                "Optional and required fields", "Returning dictionaries (auto-converted to JSON)",
                "Setting status codes"],
          uses=["create_items_app"],
          hint="status_code=201 on the POST decorator and 204 on the DELETE one, Query(ge=…, le=…) for skip "
               "and limit, HTTPException(404) for an unknown id, return the item's dict, and the list "
               "created inside create_items_app().")
def items_api(create_items_app):
    check(callable(create_items_app), "create_items_app must be a function that returns a new FastAPI app")
    client = _client(create_items_app(), "create_items_app()")

    check(_ids(client, "") == [], "GET /items on a new app must return [] (a new app has no items)")

    # POST /items: 201 and the created item, ids 1, 2, … in creation order
    r = client.post("/items", json=_PEN)
    check(r.status_code == 201,
          f"POST /items with {_PEN} answered {r.status_code}{_why(r)}; expected 201 Created")
    want = {"id": 1, **_PEN, "description": None}
    check(_json(r) == want, f"POST /items returned {_json(r)!r}; expected {want!r} (the first item has id 1)")
    r = client.post("/items", json=_INK)
    want_ink = {"id": 2, **_INK}
    check(r.status_code == 201 and _json(r) == want_ink,
          f"a second POST /items returned {r.status_code} {_json(r)!r}; expected 201 {want_ink!r}")
    _status(client, "POST", "/items", 422, "without `name`", json={"price": 1.0})
    _status(client, "POST", "/items", 422, "without `price`", json={"name": "Cup"})
    _status(client, "POST", "/items", 422, "with price \"cheap\"", json={"name": "Cup", "price": "cheap"})

    # GET /items/{item_id}
    for item in (want, want_ink):
        r = client.get(f"/items/{item['id']}")
        check(r.status_code == 200 and _json(r) == item,
              f"GET /items/{item['id']} returned {r.status_code} {_json(r)!r}; expected 200 {item!r}")
    _status(client, "GET", "/items/3", 404, "(no item has id 3)")
    _status(client, "GET", "/items/0", 404, "(no item has id 0)")
    _status(client, "GET", "/items/999", 404, "(no item has id 999)")
    _status(client, "GET", "/items/abc", 422, "(not an integer id)")

    # GET /items?skip=&limit= with 12 items stored
    for n in range(3, 13):
        r = client.post("/items", json={"name": f"Item {n}", "price": n})
        body = _json(r)
        check(r.status_code == 201 and isinstance(body, dict) and body.get("id") == n,
              f"POST /items number {n} returned {r.status_code} {body!r}; expected 201 with id {n}")
    first_ten = list(range(1, 11))
    got = _ids(client, "")
    check(got == first_ten, f"GET /items with 12 items returned ids {got}; expected {first_ten} (limit defaults to 10)")
    for query, want_ids in [("?skip=0", first_ten), ("?skip=10", [11, 12]), ("?skip=12", []),
                            ("?skip=2&limit=3", [3, 4, 5]), ("?limit=1", [1]),
                            ("?limit=100", list(range(1, 13)))]:
        got = _ids(client, query)
        check(got == want_ids, f"GET /items{query} returned ids {got}; expected {want_ids}")
    for query, why in [("?limit=0", "(limit below 1)"), ("?limit=101", "(limit above 100)"),
                       ("?skip=-1", "(skip below 0)"), ("?limit=ten", "(limit not an integer)")]:
        _status(client, "GET", "/items" + query, 422, why)

    # each call: a new app with its own store
    other = _client(create_items_app(), "create_items_app()")
    check(_ids(other, "") == [],
          "a second app from create_items_app() already has items: create the list inside the function")
    check(len(_ids(client, "?limit=100")) == 12, "the first app lost its items when a second app was created")

    # PUT /items/{item_id} replaces an item, DELETE /items/{item_id} removes it
    new = {"name": "Fountain pen", "price": 25.0}
    want = {"id": 2, **new, "description": None}
    r = client.put("/items/2", json=new)
    check(r.status_code == 200 and _json(r) == want,
          f"PUT /items/2 with {new} returned {r.status_code}{_why(r)} {_json(r)!r}; expected 200 {want!r}")
    r = client.get("/items/2")
    check(r.status_code == 200 and _json(r) == want,
          f"after PUT /items/2, GET /items/2 returned {r.status_code} {_json(r)!r}; expected 200 {want!r}")
    _status(client, "PUT", "/items/99", 404, "(no item has id 99)", json=new)
    _status(client, "PUT", "/items/2", 422, "without `price`", json={"name": "Cup"})
    r = _status(client, "DELETE", "/items/3", 204, "(item 3 exists)")
    check(r.content == b"", f"DELETE /items/3 answered 204 with the body {r.text[:60]!r}; a 204 has no body")
    _status(client, "GET", "/items/3", 404, "after DELETE /items/3")
    _status(client, "DELETE", "/items/3", 404, "a second time")
    got = _ids(client, "?limit=100")
    want_ids = [1, 2, *range(4, 13)]
    check(got == want_ids, f"after DELETE /items/3, GET /items?limit=100 returned ids {got}; expected {want_ids}")
    r = client.post("/items", json=_PEN)
    body = _json(r)
    check(r.status_code == 201 and isinstance(body, dict) and body.get("id") == 13,
          f"after 12 items were created and item 3 deleted, POST /items returned {r.status_code} {body!r}; "
          "expected 201 with id 13 (ids are never reused)")


# -- 1.2.service_responses ----------------------------------------------------------------

_MODELS = {"llama-3.1-8b": 128_000, "mistral-7b": 32_768, "phi-3-mini": 4_096}


@exercise("1.2.service_responses", "Custom response types",
          uses=["service_app"],
          hint="response_class=PlainTextResponse for /health; for /models/{name} return "
               "JSONResponse(content=…, status_code=…, headers=…).")
def service_responses(service_app):
    client = _client(service_app, "service_app")

    r = client.get("/health")
    check(r.status_code == 200, f"GET /health answered {r.status_code}; expected 200")
    check(r.text != '"ok"', "GET /health sent the JSON string \"ok\" (with quotes); send the plain text ok")
    check(r.text == "ok", f"GET /health sent {r.text!r}; expected exactly ok")
    kind = r.headers.get("content-type", "")
    check(kind.startswith("text/plain"), f"GET /health has content-type {kind!r}; expected text/plain")

    for name, window in _MODELS.items():
        url = f"/models/{name}"
        r = client.get(url)
        want = {"name": name, "context_window": window}
        check(r.status_code == 200, f"GET {url} answered {r.status_code}; expected 200")
        check(_json(r) == want, f"GET {url} returned {_json(r)!r}; expected {want!r}")
        cache = r.headers.get("cache-control")
        check(cache == "max-age=60", f"GET {url} has Cache-Control {cache!r}; expected 'max-age=60'")

    for name in ["gpt-5", "mistral"]:
        url = f"/models/{name}"
        r = client.get(url)
        check(r.status_code == 404, f"GET {url} (an unknown model) answered {r.status_code}; expected 404")
        body = _json(r)
        check(isinstance(body, dict) and "detail" not in body,
              f"GET {url} returned {body!r}: FastAPI's default error body; expected {{\"error\": {{...}}}}")
        error = body.get("error")
        check(isinstance(error, dict), f"GET {url} returned {body!r}; expected an \"error\" object")
        check(error.get("type") == "not_found",
              f"GET {url}: error.type is {error.get('type')!r}; expected 'not_found'")
        message = error.get("message")
        check(isinstance(message, str) and name in message,
              f"GET {url}: error.message {message!r} must be a string that names the model {name!r}")


# -- quiz ---------------------------------------------------------------------------------

QUIZ = section_quiz(
    "1.2",
    item="After completing, you can answer: How do I create an endpoint that accepts user input? "
         "How do I return different status codes for success vs error? "
         "What's the difference between path params, query params, and body?",
    questions=[
        {
            "id": "uvicorn-run",
            "item": "Running with Uvicorn (ASGI server)",
            "question": "`app/main.py` defines `app = FastAPI()` and its routes, and nothing else. You run "
                        "`python app/main.py`. What happens?",
            "choices": {
                "a": "A server starts on http://127.0.0.1:8000: FastAPI opens its own socket",
                "b": "The script defines the app and exits, and nothing listens: FastAPI is an ASGI app that a "
                     "server such as Uvicorn must import and call (`uvicorn app.main:app`)",
                "c": "A server starts on port 5000, as with Flask's app.run()",
                "d": "Python raises an error because `app` was never awaited",
            },
            "answer_hash": "798732feea53c03bc0bb5a33a54652a0f6caf9c17273cc4b640a71d791913a2f",
            "explanation": "A FastAPI app is only the callable `app(scope, receive, send)`. Uvicorn listens on the "
                           "port, turns each HTTP request into a call to it and writes the answer back; "
                           "`app.main:app` tells it which module and which variable to load.",
        },
        {
            "id": "docs-generated",
            "item": "Understanding automatic interactive docs (`/docs`, `/redoc`)",
            "question": "You add `limit: int = Query(default=10, le=100)` to GET /items and restart the app. "
                        "What must you do so that /docs shows the new parameter and its bound?",
            "choices": {
                "a": "Write it into an openapi.yaml file that /docs reads",
                "b": "Describe it in the function's docstring: /docs shows only docstrings",
                "c": "Turn the docs on with `FastAPI(docs_url=\"/docs\")`: they are off by default",
                "d": "Nothing: FastAPI builds /openapi.json from the routes and their declared types, and "
                     "/docs and /redoc draw that document",
            },
            "answer_hash": "c9423e3cb3348289eea3e187dbcc587de7fc91771df3da69ed53c39bae036b3c",
            "explanation": "Both pages are HTML shells that load /openapi.json, which FastAPI generates from "
                           "your path operations, parameters, types and status codes; the docs are on unless "
                           "you pass docs_url=None or redoc_url=None.",
        },
        {
            "id": "user-input",
            "question": "How do I create an endpoint that accepts user input?",
            "choices": {
                "a": "Read the raw request body in every function and parse it with json.loads",
                "b": "Store the input in a global variable before the request arrives",
                "c": "Declare typed parameters on the path-operation function: names in the path "
                     "template, simple types from the query string, Pydantic models from the JSON "
                     "body; FastAPI parses and validates them",
                "d": "Only through query parameters: request bodies need another framework",
            },
            "answer_hash": "252924ccf32f6eb95eb31ba9afc86b794e60909874f20f76ea7b53f446f96c5b",
            "explanation": "FastAPI reads the function's signature: each parameter's name and type say "
                           "where the value comes from and how to check it, and bad input gets a 422 "
                           "before your function runs.",
        },
        {
            "id": "status-codes",
            "question": "How do I return different status codes for success vs error?",
            "choices": {
                "a": "Put the success code on the decorator (status_code=201) and raise "
                     "HTTPException(status_code=404, detail=...) for errors, or return a "
                     "JSONResponse with its own status_code",
                "b": "Always answer 200 and put \"ok\": false in the body when something failed",
                "c": "Return a (body, status) tuple, as in Flask",
                "d": "Call sys.exit(404) inside the function",
            },
            "answer_hash": "f87ba4c808b627271e0261ba208219f66fd8381b178704d1c56182b61b00810e",
            "explanation": "The decorator fixes the code of the normal outcome; an HTTPException (or a "
                           "Response you return) replaces it when something fails. Clients, caches and "
                           "monitoring read the status code, not your body.",
        },
        {
            "id": "path-query-body",
            "question": "What's the difference between path params, query params, and body?",
            "choices": {
                "a": "None: FastAPI merges them, so any value may arrive in any of the three",
                "b": "The path identifies the resource (/items/42, always required); the query string "
                     "adds optional modifiers such as filters and paging (?skip=0&limit=10); the body "
                     "carries the structured data being created or replaced, as JSON",
                "c": "Path parameters are for POST, query parameters for GET, the body for DELETE",
                "d": "Query parameters are typed and validated; path parameters and bodies reach the "
                     "function as raw strings",
            },
            "answer_hash": "2489eca708418f95bd5cdbe72bc23ef2983ad3c20d3b36d35e1ee6b39ea299db",
            "explanation": "Each has its job: which resource, how to read it, what data to store. FastAPI "
                           "validates all three from the types you declare and says where an error is "
                           "(path, query or body).",
        },
        {
            "id": "tuple-status",
            "question": "A path operation with no return annotation ends with "
                        "`return {\"error\": \"not found\"}, 404`. What does the client get?",
            "choices": {
                "a": "404 with {\"error\": \"not found\"}",
                "b": "500: FastAPI cannot serialise a tuple",
                "c": "422: the response does not match the request",
                "d": "200 with the JSON list [{\"error\": \"not found\"}, 404]",
            },
            "answer_hash": "e045109b174931fff22cf55d236ce810c602d8599e7b8f8b3bc2c742dfb3e5bc",
            "explanation": "Whatever you return is the body: a tuple becomes a JSON list and the status "
                           "stays the default 200. Raise HTTPException or return a JSONResponse to change "
                           "the code.",
        },
    ],
    hint="Rerun the 1.2.1 to 1.2.4 cells that show each behaviour, then answer again.",
)
