"""One mailbox, one identity: the key that says two spellings of an address are the same person.

``Case.Test@Example.DK`` and ``case.test@example.dk`` reach the same mailbox, so they must be one
subscriber, one erasure and one mail per campaign. The address is kept as the resident typed it
(for display and sending); every look-up, uniqueness check and suppression digest uses the
identity key instead.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Final

import idna

# A fixed, public application salt (not a secret key): rotating the signing keys must never
# change an address's digest, or erased addresses could be signed up again. The digest only
# keeps the stored value from being the address itself; it is not meant to resist guessing a
# known address, which is exactly what the suppression lookup has to do.
ADDRESS_HASH_SALT: Final = "brevdue.address.v1:"


def _domain_identity(domain: str) -> str:
    """The domain in IDNA (UTS #46) normalised Unicode form, lower-case, without a final dot."""
    # Plain ASCII domains (nearly all) need no IDNA pass, which costs tens of microseconds: the
    # mailer computes a digest per recipient at send time.
    domain = domain.strip().rstrip(".")
    if domain.isascii() and "xn--" not in domain.casefold():
        return domain.lower()
    return _idna_identity(domain)


# Recipients' domains repeat (a few mail providers carry most addresses).
@lru_cache(maxsize=4096)
def _idna_identity(domain: str) -> str:
    try:
        return str(idna.decode(idna.encode(domain, uts46=True)))
    except idna.IDNAError:
        # Not a valid IDNA name (validation refuses such addresses before they are stored);
        # still give every spelling of it one key.
        return domain.casefold()


def address_identity(address: str) -> str:
    """The identity key of an address: case-folded local part, IDNA-normalised domain."""
    local, at, domain = address.strip().rpartition("@")
    if not at:
        return address.strip().casefold()
    return f"{local.casefold()}@{_domain_identity(domain)}"


def address_digest(address: str) -> str:
    """Salted SHA-256 of the address's identity key: a reference that is not the address.

    For every address with an ASCII local part (the only kind sign-up accepts) this equals the
    digest of the lower-cased address written before identity keys existed, so suppressions and
    audit entries stored earlier keep matching.
    """
    return hashlib.sha256((ADDRESS_HASH_SALT + address_identity(address)).encode()).hexdigest()
