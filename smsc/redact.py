"""What of a subscriber may appear in the log: numbers and SMS text are masked unless
`logging.show_subscriber_data` is set (the operator's data-protection switch)."""

from __future__ import annotations

_shown = False


def show_subscriber_data(show: bool) -> None:
    """Set once at start-up from `logging.show_subscriber_data`."""
    global _shown  # noqa: PLW0603 (one process-wide switch, like the logging configuration)
    _shown = show


def subscriber(value: str | None) -> str:
    """A number or identity for the log: the last three digits stay, the rest is masked.

    '+491711234567' -> '+*********567'; 'MyBank' -> '******'; shown in full when allowed.
    """
    if value is None:
        return "-"
    if _shown:
        return value
    keep = 3 if len(value) > 5 else 0
    head = value[: len(value) - keep]
    masked = "".join(c if c in "+:@" else "*" for c in head)
    return masked + value[len(value) - keep :]


def sms_text(value: str | None) -> str:
    """SMS text for the log: only its length unless allowed."""
    if value is None:
        return "-"
    return repr(value) if _shown else f"<{len(value)} characters>"


def uri(value: str | None) -> str:
    """A SIP or tel URI for the log: its user part (a number or IMPU) masked, the host kept.

    'sip:+491711234567@10.0.0.1:5060' -> 'sip:+*********567@10.0.0.1:5060';
    'tel:+491711234567' -> 'tel:+*********567'; 'sip:scscf.example.net' as it is.
    """
    if value is None:
        return "-"
    if _shown:
        return value
    scheme, colon, rest = value.partition(":")
    if not colon:
        return subscriber(value)
    if scheme.lower() == "tel":
        return f"{scheme}:{subscriber(rest)}"
    user, at, host = rest.partition("@")
    return f"{scheme}:{subscriber(user)}@{host}" if at else value  # no user part: a host
