"""A learner's version: the limits are checked by hand instead of declared on the model."""

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

app = FastAPI(title="FastAPI Hello")


class EchoRequest(BaseModel):
    message: str


class EchoResponse(BaseModel):
    message: str


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/echo", response_model=EchoResponse)
async def echo(request: EchoRequest) -> EchoResponse:
    if not 1 <= len(request.message) <= 1000:
        raise HTTPException(status_code=422, detail="message must be 1 to 1000 characters")
    return EchoResponse(message=request.message)
