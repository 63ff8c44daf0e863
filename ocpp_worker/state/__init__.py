"""Everything the system remembers lives in Redis; this package is the only code that
knows the key layout (see `keys.py` and docs/ARCHITECTURE.md)."""
