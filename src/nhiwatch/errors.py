"""The exception hierarchy. Library code raises these; only the CLI turns them into exit codes."""

from __future__ import annotations


class NhiwatchError(Exception):
    """Root of every error nhiwatch raises on purpose."""


class ConfigError(NhiwatchError):
    """A configuration, inventory, tickets or suppression file is invalid."""


class SourceError(NhiwatchError):
    """An input could not be read at all (missing file, unknown format)."""


class DataFormatError(NhiwatchError):
    """A record or file is not in the shape its format requires."""


class NotFoundError(NhiwatchError):
    """An id (alert, integration, token) does not exist."""
