"""FastAPI Hello: a health check and an echo endpoint.

Run it locally with `uvicorn app.main:app --reload` and open http://localhost:8000/docs.
"""

from fastapi import FastAPI
from pydantic import BaseModel, Field

# Longest message /echo accepts. Bounding every input keeps one request from
# making the server allocate (and send back) an arbitrarily large body.
MAX_MESSAGE_LENGTH = 1000

app = FastAPI(
    title="FastAPI Hello",
    version="1.0.0",
    description="A health check and an echo endpoint: the smallest useful FastAPI service.",
)


class EchoRequest(BaseModel):
    """The body of POST /echo."""

    # TODO: a required `message` string of 1 to MAX_MESSAGE_LENGTH characters (see README)


class EchoResponse(BaseModel):
    """What POST /echo answers.

    A separate model from EchoRequest, even though the fields match today: the request
    and the response are different contracts and will change independently.
    """

    # TODO: the `message` sent back (see README)


@app.get("/health", summary="Liveness check")
async def health() -> dict[str, str]:
    """Answer 200 while the process is up; load balancers and `docker compose` poll it."""
    raise NotImplementedError("TODO: return the health payload described in README.md")


# TODO: a POST /echo path operation that takes an EchoRequest body and answers
# with an EchoResponse (declare it as the response model). See README.md.
