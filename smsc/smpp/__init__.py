"""SMPP 3.4 (issue 12-Oct-1999): the PDU codec and the sans-IO server-side session."""
