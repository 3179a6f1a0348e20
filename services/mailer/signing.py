"""Optional DKIM signing (RFC 6376) of the final message bytes, rsa-sha256, relaxed/relaxed.

dkimpy supplies the DKIM rules (parsing, canonicalization, header selection, folding); the RSA
step runs in OpenSSL through ``cryptography``, because dkimpy's pure-Python RSA costs ~7.5 ms
per 2048-bit signature against ~0.4 ms. The steps mirror ``dkim.DKIM.sign`` and the tests check
every signature with ``dkim.verify``.
"""

from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from dkim import RE_BTAG, fold, hash_headers, rfc822_parse
from dkim.canonicalization import CanonicalizationPolicy

# What the signature covers. Headers a message lacks are still listed: adding one later (an
# unsubscribe header slipped into a transactional mail) then breaks the signature.
SIGNED_HEADERS: tuple[bytes, ...] = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"list-id",
    b"mime-version",
    b"content-type",
)
# Listed a second time ("over-signed"): a second copy added in transit, such as a forged
# unsubscribe link placed above ours, breaks the signature instead of riding along.
OVERSIGNED: tuple[bytes, ...] = (b"from", b"subject", b"list-unsubscribe", b"list-unsubscribe-post")

_POLICY = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
_NAME = b"DKIM-Signature"


class DkimSigner:
    """Signs messages for one domain and selector with one RSA key."""

    def __init__(self, domain: str, selector: str, key: rsa.RSAPrivateKey) -> None:
        self.domain = domain.encode("ascii")
        self.selector = selector.encode("ascii")
        self._key = key
        self._include = SIGNED_HEADERS + OVERSIGNED

    @classmethod
    def from_pem(cls, domain: str, selector: str, pem: bytes) -> DkimSigner:
        """A signer from a PEM private key (PKCS#1 or PKCS#8); ValueError if it is not RSA."""
        if not domain.isascii() or not selector.isascii() or not domain or not selector:
            raise ValueError("domain and selector must be non-empty ASCII (use IDNA for domains)")
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the key is not an RSA private key")
        if key.key_size < 1024:
            raise ValueError("the RSA key is shorter than 1024 bits")
        return cls(domain, selector, key)

    @classmethod
    def from_file(cls, domain: str, selector: str, path: str) -> DkimSigner:
        """A signer from a PEM key file; OSError or ValueError when it cannot be used."""
        return cls.from_pem(domain, selector, Path(path).read_bytes())

    def signature_header(self, message: bytes) -> bytes:
        """The ``DKIM-Signature`` header line (CRLF-terminated) for ``message``."""
        headers, body = rfc822_parse(message)
        body_hash = base64.b64encode(hashlib.sha256(_POLICY.canonicalize_body(body)).digest())
        fields = [
            (b"v", b"1"),
            (b"a", b"rsa-sha256"),
            (b"c", b"relaxed/relaxed"),
            (b"d", self.domain),
            (b"s", self.selector),
            (b"t", str(int(time.time())).encode("ascii")),
            (b"h", b" : ".join(self._include)),  # spaces: folding may break only there
            (b"bh", body_hash),
            (b"b", b""),
        ]
        # The signed form of this header is the header itself with an empty b= value.
        unsigned = fold(b"; ".join(b"=".join(f) for f in fields), namelen=len(_NAME))
        header = (_NAME, b" " + RE_BTAG.sub(b"\\1", unsigned))
        hasher = hashlib.sha256()
        canonical = _POLICY.canonicalize_headers(headers)
        hash_headers(hasher, _POLICY, canonical, self._include, header, None)
        signature = self._key.sign(
            hasher.digest(), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
        )
        fields[-1] = (b"b", base64.b64encode(signature))
        value = fold(b"; ".join(b"=".join(f) for f in fields) + b"\r\n", namelen=len(_NAME))
        return _NAME + b": " + bytes(value)

    def public_record(self) -> bytes:
        """The DNS TXT record value (at ``<selector>._domainkey.<domain>``) for this key."""
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)

    def sign(self, message: bytes) -> bytes:
        """``message`` with its DKIM-Signature header prepended."""
        return self.signature_header(message) + message
