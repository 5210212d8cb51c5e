"""Facts derived from what a record already holds, with maintained libraries; nothing invented.

Each function returns `{field: (value, confidence)}` for what it could derive and nothing for
what it could not. Confidences are below 1.0 because these are derivations, not lookups.
"""

Derived = dict[str, tuple[object, float]]
