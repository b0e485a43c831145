"""The benchmark (`scripts/bench`) and the synthetic estate generator (`scripts/gen-estate`).

Beside `scripts/` and `tests/`, not part of the installed package: run it from a checkout.
"""
