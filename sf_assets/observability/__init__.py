"""Structured logs with refresh/run/object/chunk context, and secret redaction at the source."""
