"""A self-hosted proof of work for sign-ups (the ALTCHA model, no third party, no tracking).

The server hands out an HMAC-signed challenge: find ``n`` ≤ maxNumber with
``SHA-256(salt + n) == challenge``. The browser solves it (widget.js, a second or so) and sends
the solution base64-encoded in the ``altcha`` field. Verifying is one hash and one HMAC; the
signature is remembered in Redis until the challenge expires, so each solution works once.

Sites that require it (``member_sites.require_proof_of_work``) need JavaScript: the plain HTML
form cannot solve a challenge by itself. The embed page loads a small script that does, and so
does our own sign-up form unless BREVDUE_PROOF_OF_WORK_WITHOUT_SITE is ``off``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Final

import msgspec
from altcha.v1 import Challenge as IssuedChallenge
from altcha.v1 import create_challenge, verify_solution
from redis.asyncio import Redis

from services.subscriptions.errors import FieldProblem, InvalidInput
from shared.clock import utcnow
from shared.queues import KEY_PREFIX
from shared.settings import Settings

FIELD: Final = "altcha"
CHALLENGE_TTL: Final = timedelta(minutes=10)
DEFAULT_MAX_NUMBER: Final = 50_000
# A real solution is about 300 characters; anything much longer is not worth decoding.
MAX_PAYLOAD: Final = 2048
USED_KEY_PREFIX: Final = KEY_PREFIX + "altcha:used:"
_ALGORITHM: Final = "SHA-256"


class Challenge(msgspec.Struct, frozen=True, rename="camel"):
    """A challenge as ALTCHA clients expect it."""

    algorithm: str
    challenge: str
    max_number: int
    salt: str
    signature: str


class Solution(msgspec.Struct, frozen=True):
    """A solved challenge as the client sends it back (base64 JSON)."""

    algorithm: str
    challenge: str
    number: int
    salt: str
    signature: str


def derive_hmac_key(settings: Settings) -> str:
    """The challenge-signing key: derived from the newest secret key, used for nothing else."""
    if not settings.secret_keys:
        raise ValueError("no secret key configured")
    secret = settings.secret_keys[-1].reveal().encode()
    return hmac.new(secret, b"brevdue proof-of-work v1", hashlib.sha256).hexdigest()


def form_solves_proof_of_work(settings: Settings, site_key: str | None = None) -> bool:
    """Whether our own sign-up form page loads the script that solves a proof of work: when
    sign-ups without a site may need one, or when the form was sent for a member site."""
    return settings.proof_of_work_without_site != "off" or bool(site_key)


class ProofOfWork:
    """Issues signed challenges and accepts each correct solution once."""

    def __init__(
        self, hmac_key: str, redis: Redis, *, max_number: int = DEFAULT_MAX_NUMBER
    ) -> None:
        self._hmac_key = hmac_key
        self._redis = redis
        self.max_number = max_number

    def challenge(self, now: datetime | None = None) -> Challenge:
        """A new challenge that expires in CHALLENGE_TTL."""
        expires = (now or utcnow()) + CHALLENGE_TTL
        issued: IssuedChallenge = create_challenge(
            algorithm=_ALGORITHM,
            max_number=self.max_number,
            salt_length=12,
            hmac_key=self._hmac_key,
            salt="",
            number=None,
            expires=expires,
            params=None,
        )
        return Challenge(
            algorithm=issued.algorithm,
            challenge=issued.challenge,
            max_number=issued.max_number,
            salt=issued.salt,
            signature=issued.signature,
        )

    async def verify(self, payload: str | None) -> None:
        """Accept a solution once; raise InvalidInput on field ``altcha`` saying why not."""
        solution = _decode(payload)
        ok, error = verify_solution(
            {
                "algorithm": "SHA-256",
                "challenge": solution.challenge,
                "number": solution.number,
                "salt": solution.salt,
                "signature": solution.signature,
            },
            self._hmac_key,
            check_expires=True,
        )
        if error and "expired" in error:
            raise _problem("expired")
        if not ok or error or "expires=" not in solution.salt:
            raise _problem("invalid")
        # First use wins: SET NX succeeds once per signature while the challenge is valid.
        fresh = await self._redis.set(
            USED_KEY_PREFIX + solution.signature,
            b"1",
            nx=True,
            ex=int(CHALLENGE_TTL.total_seconds()) + 60,
        )
        if not fresh:
            raise _problem("used")


def _decode(payload: str | None) -> Solution:
    if not payload or not payload.strip():
        raise _problem("required")
    if len(payload) > MAX_PAYLOAD:
        raise _problem("invalid")
    try:
        raw = base64.b64decode(payload.strip(), validate=True)
        solution = msgspec.json.decode(raw, type=Solution)
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError):
        raise _problem("invalid") from None
    if solution.algorithm != _ALGORITHM or solution.number < 0:
        raise _problem("invalid")
    return solution


def _problem(code: str) -> InvalidInput:
    return InvalidInput({FIELD: FieldProblem(code)})
