"""Advanced Mobile Location (ETSI TS 103 625) and emergency SMS routing."""
