"""API tokens for the read-only JSON API (docs/api.md): made here, kept only as their SHA-256 by the store.

A token is `jx_` and 43 URL-safe characters (32 random bytes from `secrets`). It is shown once, when issued;
the database holds its SHA-256, so a copy of the database gives no working token. A plain SHA-256 (not a
slow password hash) is right here: the token is random and long, not a password a person chose, so there
is nothing to guess by trying hashes, and the check stays a single indexed lookup per request.
"""

from __future__ import annotations

import hashlib
import re
import secrets

PREFIX = "jx_"
_FORM = re.compile(r"jx_[A-Za-z0-9_-]{43}")
MAX_NAME = 40


def new_token() -> tuple[str, str]:
    """A fresh token and its SHA-256 (hex), which is what the store keeps."""
    token = PREFIX + secrets.token_urlsafe(32)
    return token, token_sha256(token)


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def well_formed(token: str) -> bool:
    """Whether `token` has the form of one of ours (a cheap refusal before the database is asked)."""
    return bool(_FORM.fullmatch(token))


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None when there is no such header."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None
