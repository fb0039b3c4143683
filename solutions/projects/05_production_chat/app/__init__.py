# Shared copy: the same code in projects 03, 04, 05, 06, 07 (tests/test_copies.py checks it).
"""The application package (`uvicorn app.main:app`), set up so LiteLLM works offline."""

import os

# LiteLLM downloads its model price list from GitHub when it is imported, unless told to
# use the copy it ships with. Use the shipped copy: start-up is quicker and works offline
# (an explicit value in the environment still wins).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
