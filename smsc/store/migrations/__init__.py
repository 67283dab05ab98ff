"""Alembic migrations of the message store; run them with `smsc.store.migrate`."""
