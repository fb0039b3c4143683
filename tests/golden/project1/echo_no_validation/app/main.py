"""A learner's version: /echo takes whatever JSON object it is sent."""

from fastapi import FastAPI

app = FastAPI(title="FastAPI Hello")


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/echo")
async def echo(body: dict) -> dict:
    # No model: a missing, empty or non-string message is echoed back with 200.
    return {"message": body.get("message")}
