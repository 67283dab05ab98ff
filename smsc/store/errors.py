"""Errors of the message store; library exceptions are translated into these at the edge."""

from __future__ import annotations

from smsc.errors import SmscError


class StoreError(SmscError):
    """The message store could not do what was asked."""


class StoreUnavailable(StoreError):  # noqa: N818 (the name of the error tree, docs/architecture.md)
    """The database could not be reached or refused the operation; nothing was committed."""


class StoreClosedError(StoreUnavailable):
    """The store is not started, or was closed."""


class MessageNotFoundError(StoreError):
    """No stored message has this id."""

    def __init__(self, message_id: int) -> None:
        super().__init__(f"no stored message with id {message_id}")
        self.message_id = message_id


class DuplicateMessageError(StoreError):
    """An MO with the same duplicate key is already stored and its window has not ended."""

    def __init__(self, key: str) -> None:
        super().__init__(f"an MO with duplicate key {key} is already stored")
        self.key = key
