"""Sans-IO SIP (RFC 3261, RFC 3428): messages, framing, non-INVITE transactions, endpoint."""
