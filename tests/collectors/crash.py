"""A store that dies mid-run, for the collectors' crash-and-resume tests."""

from __future__ import annotations

from nhiwatch.store import Store


class Crash(BaseException):
    """The process dying: not an error the runner handles."""


class CrashingStore(Store):
    """Dies at the ``crash_at``-th COMMIT: after the page's events and checkpoint are written, before
    they are committed."""

    crash_at = 0
    commits = 0

    def execute(self, sql, params=None):  # type: ignore[no-untyped-def, override]
        if sql == "COMMIT":
            self.commits += 1
            if self.commits == self.crash_at:
                raise Crash()
        return super().execute(sql, params)
