"""Process-wide settings every long-running entrance (the API server, the CLI) applies once at start.

`py_ecc`, which web3, eth-account and py-evm import, raises the interpreter's recursion limit to 100,000 when it is
first imported. At that limit the C JSON decoder's depth guard no longer trips before the C stack runs out: one
request body nested about 70,000 levels deep segfaults the whole process. py-evm itself needs 12,288 frames (1,024
nested calls of the EVM); that is the limit we set, after importing both so their import-time side effect has
already happened and cannot raise it again later (py-evm's own import only ever raises the limit to 12,288).
"""

from __future__ import annotations

import sys

# py-evm's own need (eth.EVM_RECURSION_LIMIT): 1,024 nested EVM calls, 12 frames each.
RECURSION_LIMIT = 1024 * 12


def settle_recursion_limit() -> int:
    """Import py_ecc (which raises the recursion limit on import), then set the limit the EVM needs; returns it."""
    import py_ecc  # noqa: F401  (import-time side effect: sets the limit to at least 100,000)

    sys.setrecursionlimit(RECURSION_LIMIT)
    return RECURSION_LIMIT
