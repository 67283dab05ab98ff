"""Worker processes of `sip.workers`: started, supervised and spoken to by the main process."""
