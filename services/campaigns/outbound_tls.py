"""The TLS context of the service's outbound HTTP clients (feeds, webhooks), built once."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def verifying_context(*, trust_env: bool) -> ssl.SSLContext:
    """httpx's own default context for ``trust_env`` (certifi's CAs, or SSL_CERT_FILE and
    SSL_CERT_DIR when the environment is trusted), built once per process: loading the CA
    bundle costs tens of milliseconds of CPU, and the clients are made at every start of the
    app's lifespan. A context may serve any number of clients."""
    return httpx.create_ssl_context(trust_env=trust_env)
