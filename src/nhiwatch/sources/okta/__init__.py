"""Okta log sources."""
