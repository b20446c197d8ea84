"""Routing's pure domain: system-mail sorting (stdlib only)."""
