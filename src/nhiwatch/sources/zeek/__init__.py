"""Zeek: conn, http and ssl logs written as JSON lines (``LogAscii::use_json=T``)."""
