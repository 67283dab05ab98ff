"""The C twin of smsc.sip.scan's scanners (smsc/sip/_scan.c); see smsc.sip.native."""

from smsc.sip.scan import ScannedMessage, ScannedResponse

def scan_message(data: bytes, max_headers: int) -> ScannedMessage | None:
    """A MESSAGE over UDP in the common shape, or None for the general parser."""

def scan_response(data: bytes, max_headers: int) -> ScannedResponse | None:
    """A response with one Via line in the shape we send, or None for the general parser."""
