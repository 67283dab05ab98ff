"""Ro online charging for SMS (TS 32.274, TS 32.299, RFC 4006)."""
