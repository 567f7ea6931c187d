"""Bearer-token authentication, as a Starlette authentication backend.

A request's user is its token's owner id (a sha256 prefix: the token itself is never stored or
logged), which the job store records and the per-token limits count. Comparisons take constant
time, so response timing tells nothing about a token's prefix.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    SimpleUser,
)
from starlette.requests import HTTPConnection

JOBS_SCOPE = "jobs"
ANONYMOUS = "anonymous"  # the one owner when auth is off (loopback only)


def owner_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class BearerTokens(AuthenticationBackend):
    def __init__(self, tokens: tuple[str, ...], required: bool) -> None:
        self.tokens, self.required = tokens, required

    async def authenticate(self, conn: HTTPConnection):
        if not self.required:
            return AuthCredentials([JOBS_SCOPE]), SimpleUser(ANONYMOUS)
        header = conn.headers.get("authorization")
        if header is None:
            return None  # unauthenticated: the job routes answer 401
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationError("send the token as 'Authorization: Bearer <token>'")
        matches = [hmac.compare_digest(token.encode(), t.encode()) for t in self.tokens]
        if not any(matches):
            raise AuthenticationError("the token is not one this server accepts")
        return AuthCredentials([JOBS_SCOPE]), SimpleUser(owner_id(token))
