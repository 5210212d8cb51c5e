"""Credit balances and the per-tenant ledger of every debit, refund and grant.

Credits are whole numbers. Every documented price is an integer (1, 2, 3, 5 credits ...);
integers make the guarded `remaining >= n` debit exact on every backend, where floats would
drift. The documented examples that show fractions (`4750.25`) are read as illustrations of
a JSON number, which an integer is.
"""
