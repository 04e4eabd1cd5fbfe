"""nhiwatch: behaviour monitoring for SaaS integrations and other non-human identities."""

__version__ = "0.1.0"
