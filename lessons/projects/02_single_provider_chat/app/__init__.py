"""Single Provider Chat: the application package (`uvicorn app.main:app`)."""
