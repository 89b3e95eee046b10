"""The project's own errors. Each says what failed and what to do; each maps to one exit code.

Exit codes: 0 ok, 1 a check or threshold failed, 2 usage error (bad input), 3 device or infrastructure error.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_INFRA = 3


class MaiBenchError(Exception):
    """Base error: `message` says what failed, `fix` the one thing to do about it."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return self.message if not self.fix else f"{self.message} (fix: {self.fix})"


class UsageError(MaiBenchError):
    """Bad input from the user: a missing file, a file that is not a model, a wrong flag."""

    exit_code = EXIT_USAGE


class ModelError(UsageError):
    """The file is not a readable TFLite model."""


class InfraError(MaiBenchError):
    """The device, the adb server, the network or the benchmark binary let us down."""

    exit_code = EXIT_INFRA


class CheckFailed(MaiBenchError):
    """A check or threshold failed; the measurement itself is fine."""

    exit_code = EXIT_CHECK_FAILED
