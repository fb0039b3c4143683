"""FastAPI Hello: the application package (`uvicorn app.main:app`)."""
