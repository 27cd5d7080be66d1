"""The incident fingerprint: a stable identity for "this product's cost line, in this currency, under
this monitor scope", used as the incident key and as every receiver's idempotency key (PagerDuty's
``dedup_key``, the ticket marker).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache


# A sweep asks for each series' key about six times (grouping, roles, the incident, its links): a pure
# function of four strings, so remembered (bounded, about 200 bytes a key) instead of hashed again.
@lru_cache(maxsize=1 << 17)
def fingerprint(product: str, cost_line: str, currency: str, scope: str = "default") -> str:
    """Return a 32-hex-character digest of the four parts; the same inputs always give the same key.

    Canonical JSON (not string joining) so that no choice of separators in names can make two
    different series collide; 128 bits keeps the key short enough for every receiver's limits.
    """
    canonical = json.dumps([product, cost_line, currency.upper(), scope], ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]
