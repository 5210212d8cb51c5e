"""Credit balances and the per-tenant ledger of every debit and grant."""
