"""Slack: Enterprise Grid audit logs."""
