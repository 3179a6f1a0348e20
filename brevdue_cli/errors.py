"""Errors of the command line."""

from __future__ import annotations

from shared.errors import BrevdueError


class CliError(BrevdueError):
    """Base class of every error the command line reports as one line."""


class StartupError(CliError):
    """``brevdue run`` could not bring the suite up."""


class MissingServiceError(CliError):
    """A service module the command needs is not installed."""

    def __init__(self, module: str) -> None:
        self.module = module
        super().__init__(f"{module} is missing; is the checkout complete?")
