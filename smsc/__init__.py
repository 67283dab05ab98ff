"""SMSC / IP-SM-GW for IMS networks."""

__version__ = "0.1.0"
