"""asyncio UDP and TCP transports: sockets in, bytes to the sans-IO SIP endpoint, bytes out."""
