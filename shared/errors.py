"""Errors shared by every Brevdue package."""

from __future__ import annotations


class BrevdueError(Exception):
    """Base class of every error Brevdue raises on purpose."""


class SettingsError(BrevdueError):
    """A ``BREVDUE_*`` variable is missing or malformed."""

    def __init__(self, variable: str, reason: str) -> None:
        self.variable = "BREVDUE_" + variable
        self.reason = reason
        super().__init__(f"{self.variable} {reason}")


class TokenError(BrevdueError):
    """A signed token is not valid for the purpose it was presented for."""

    reason = "invalid"


class TokenExpired(TokenError):
    """A signed token was valid once but is older than its purpose allows."""

    reason = "expired"


class QueueUnavailable(BrevdueError):
    """A job could not be enqueued, or its result not read: the services answer 503."""

    def __init__(self, job: str, reason: str) -> None:
        self.job = job
        self.reason = reason
        super().__init__(f"{job}: {reason}")


class InvalidJobPayload(BrevdueError):
    """A job's argument does not match its payload contract; the job fails for good."""

    def __init__(self, job: str, reason: str) -> None:
        self.job = job
        self.reason = reason
        super().__init__(f"{job}: {reason}")
