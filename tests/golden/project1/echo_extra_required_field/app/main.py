"""A learner's version: EchoRequest grew a required field the spec does not have."""

from fastapi import FastAPI
from pydantic import BaseModel, Field

app = FastAPI(title="FastAPI Hello")


class EchoRequest(BaseModel):
    message: str = Field(min_length=1, max_length=1000)
    times: int = Field(ge=1, le=3)


class EchoResponse(BaseModel):
    message: str


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/echo", response_model=EchoResponse)
async def echo(request: EchoRequest) -> EchoResponse:
    return EchoResponse(message=" ".join([request.message] * request.times))
