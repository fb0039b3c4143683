# Shared copy: the same code in projects 05, 07 (tests/test_copies.py checks it).
"""JWT bearer authentication: who is calling, and on which tier.

A token is a JWT signed with HS256 and the shared secret JWT_SECRET, with the claims
`sub` (the user id), `tier` ("free" or "premium") and `exp` (expiry, seconds since the
epoch). Mint one with `python -m app.tokens --sub alice --tier premium`.

Every way a token can be wrong ends the same: 401, `WWW-Authenticate: Bearer`, the one
error body. The details go to the log, not to the caller.
"""

from dataclasses import dataclass
from typing import Annotated, Literal

import jwt
import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.config import get_settings

log = structlog.get_logger(__name__)

TIERS = ("free", "premium")
Tier = Literal["free", "premium"]
# The one algorithm we sign with. Pinning it is what stops `alg: none` and algorithm
# confusion: PyJWT verifies with exactly the algorithms listed here, whatever the token's
# header claims.
ALGORITHMS = ["HS256"]


@dataclass(frozen=True)
class User:
    sub: str
    tier: Tier


class AuthError(Exception):
    """No usable bearer token: answered with 401 and WWW-Authenticate: Bearer."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# auto_error=False: a missing header reaches us (and gets our 401 and error body)
# instead of FastAPI's own 403.
bearer = HTTPBearer(auto_error=False, description="A JWT from `python -m app.tokens`")


def decode_token(token: str, secret: str) -> User:
    """Verify the signature, `exp` and the claims; the user, or AuthError."""
    raise NotImplementedError("TODO: jwt.decode with algorithms pinned and exp, sub required (README.md)")


async def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    """The dependency every protected endpoint takes: the verified caller."""
    raise AuthError("TODO: read and verify the bearer token (README.md)")


CurrentUser = Annotated[User, Depends(current_user)]
