"""Errors that end a run, each with a one-line message meant for the user.

Anything raised from here is reported as `target-intercom: <message>` on stderr,
without a traceback: these are the user's problems to fix (configuration, input,
credentials) or Intercom's answers, not bugs in the target.
"""

from __future__ import annotations


class TargetError(Exception):
    """A failure the user can act on; `exit_code` is what the process returns."""

    exit_code = 1


class ConfigError(TargetError):
    """The configuration or the command line is wrong."""

    exit_code = 2


class InputError(TargetError):
    """The Singer input on stdin cannot be processed."""


class AuthError(TargetError):
    """Intercom refused the access token."""


class IntercomUnavailable(TargetError):
    """Intercom kept failing past the retry budget."""


class TooManyRejections(TargetError):
    """More records were rejected than `max_rejected_records` allows."""


class Interrupted(TargetError):
    """The run was stopped by a signal (exit code 128 + the signal's number)."""

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code
