"""OCSF: events already in the Open Cybersecurity Schema Framework (Security Lake, SIEM exports)."""
