"""Tokens checked lately, kept for a second: a busy client's requests skip the database.

Checking a token is a read of its row and a hash, in a thread: about half a millisecond and a
thread hop, on every request. `VerifiedTokens` keeps what `TokenStore.verify` answered (the
token, or None) for `TOKEN_TTL_S`, keyed by the SHA-256 of the text presented (the text itself
is never kept), and concurrent checks of one token share one read (`intake.caches.TTLCache`,
whose entries expire `ttl` after their read began). So a token revoked in Discord or with
`reelbot token revoke` is refused by every API process within a second of the revocation, and
never later; bans are read through a cache as short-lived (`api.context`). The tokens of a
burst's requests are read in one query, their `last_used_at` written in one transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Sequence

from gallery.api_tokens import TokenStore
from gallery.apitables import ApiToken
from intake.caches import TTLCache
from jobs.batching import Batcher

TOKEN_TTL_S = 1.0
MAX_TOKENS = 10_000


class VerifiedTokens:
    def __init__(
        self,
        store: TokenStore,
        *,
        ttl: float = TOKEN_TTL_S,
        maxsize: int = MAX_TOKENS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.cache: TTLCache[bytes, ApiToken | None] = TTLCache(
            ttl=ttl, maxsize=maxsize, clock=clock
        )
        # The tokens asked together read in one query, their `last_used_at` in one transaction
        self._reads: Batcher[str, ApiToken | None] = Batcher(self._read_many)

    async def verify(self, plaintext: str) -> ApiToken | None:
        """The live token `plaintext` is, or None, as `TokenStore.verify` said at most `ttl`
        ago."""
        key = hashlib.sha256(plaintext.encode("utf-8", "surrogatepass")).digest()
        return await self.cache.fetch(key, lambda: self._reads(plaintext))

    async def _read_many(self, plaintexts: Sequence[str]) -> list[ApiToken | None]:
        return await asyncio.to_thread(self.store.verify_many, plaintexts)
