"""RFC 6733 Diameter base protocol, sans-IO: framing, base messages and the client peer."""
