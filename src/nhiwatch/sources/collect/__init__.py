"""Collectors: pull vendor audit logs from their APIs into the normal ingest path, with checkpoints.

``base`` is the contract a vendor module (``sources/<vendor>/collector.py``) implements, ``http`` the
bounded, rate-limit-aware client they share, ``secrets`` how credentials are read and kept out of
messages, ``state`` the ``collector_state`` checkpoints, ``runner`` the loop that spools each page into
:func:`nhiwatch.ingest.ingest` and commits the checkpoint with it, and ``registry`` the collectors by name.
"""
