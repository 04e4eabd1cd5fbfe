"""Google Workspace log sources."""
