"""Fixtures of both services' test packages, for attacks that cross them."""

from tests.campaigns.conftest import api, db
from tests.subscriptions.conftest import client, engine, lists, signer

__all__ = ["api", "client", "db", "engine", "lists", "signer"]
