"""Route logs: the audit trail of every assign, convert, merge and enrich."""
