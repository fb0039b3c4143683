"""A learner's version: /echo "tidies" the message before sending it back."""

from fastapi import FastAPI
from pydantic import BaseModel, Field

app = FastAPI(title="FastAPI Hello")


class EchoRequest(BaseModel):
    message: str = Field(min_length=1, max_length=1000)


class EchoResponse(BaseModel):
    message: str


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/echo", response_model=EchoResponse)
async def echo(request: EchoRequest) -> EchoResponse:
    return EchoResponse(message=request.message.strip())
