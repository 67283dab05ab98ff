"""Numbers and routes: the dialling plan and where an MO SMS goes (pure: no I/O)."""
