# Shared copy: the same code in projects 05, 07 (tests/test_copies.py checks it).
"""Mint a token for a user: `python -m app.tokens --sub alice --tier premium`.

It signs with JWT_SECRET from the environment (or from .env), the same secret the
service verifies with, and prints the token. Use it as
`curl -H "Authorization: Bearer $(python -m app.tokens --sub alice)" ...`.
"""

import argparse
import os
import sys
import time

import jwt

from app.auth import ALGORITHMS, TIERS


def mint_token(sub: str, tier: str, secret: str, ttl_s: int = 3600) -> str:
    """An HS256 JWT with the claims sub, tier, iat and exp."""
    now = int(time.time())
    claims = {"sub": sub, "tier": tier, "iat": now, "exp": now + ttl_s}
    return jwt.encode(claims, secret, algorithm=ALGORITHMS[0])


def _secret_from_dotenv(path: str = ".env") -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                name, sep, value = line.strip().partition("=")
                if sep and name.strip() == "JWT_SECRET" and value.strip():
                    return value.strip().strip("'\"")
    except OSError:
        return None
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sub", required=True, help="the user id (the token's sub claim)")
    parser.add_argument("--tier", choices=TIERS, default="free", help="rate limit tier")
    default_ttl = int(os.environ.get("JWT_TTL_S") or 3600)
    parser.add_argument("--ttl", type=int, default=default_ttl, help="seconds until it expires (JWT_TTL_S)")
    args = parser.parse_args(argv)
    secret = os.environ.get("JWT_SECRET") or _secret_from_dotenv()
    if not secret:
        print("JWT_SECRET is not set (environment or .env)", file=sys.stderr)
        return 2
    print(mint_token(args.sub, args.tier, secret, args.ttl))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
