"""Domain services: async, I/O only through the Protocols of ports.py."""
