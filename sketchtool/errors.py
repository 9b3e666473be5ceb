"""The one user-facing error type: its message is a single line naming the input and the fix."""

__all__ = ["SketchtoolError"]


class SketchtoolError(Exception):
    """A problem the user can fix; the CLI prints `str(error)` on one line and exits non-zero.

    `reason` is a short machine-readable code (e.g. "malformed-xml") used in build reports.
    """

    def __init__(self, message: str, *, reason: str = "error"):
        super().__init__(message)
        self.reason = reason
