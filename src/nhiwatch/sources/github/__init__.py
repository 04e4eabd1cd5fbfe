"""GitHub: organisation / enterprise audit log (REST export, JSON/CSV export as JSON, streaming)."""
