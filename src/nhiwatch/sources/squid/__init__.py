"""Squid proxy: the native access.log."""
