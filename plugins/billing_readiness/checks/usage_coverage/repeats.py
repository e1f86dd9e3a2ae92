"""Check 1's duplicate event ids without a second read of the window. Plain Python.

The repeats pass (queries.repeats) counts, per bucket of the 64-bit id hash, rows minus distinct hashes:
a bucket above 0 holds an id stored more than once (or, once in ~10^19, a hash collision). The buckets are
small (REPEAT_BUCKETS per slice of the hash space), so the rollup scan, which reads the window anyway,
collects the ids of the flagged buckets, and the ids stored more than once are counted here. Only where
so many buckets are flagged that their ids would not be small (a mass duplication) does the check read
the window again for the repeated hashes themselves (queries.duplicate_candidates, then the ids).
"""

from __future__ import annotations

from collections import Counter

REPEAT_BUCKETS = 1024  # buckets of the id hash per slice: ~10,000 ids each at 10 M events, small enough to collect
BYTES_PER_HASH = 24  # what the repeats pass holds per event id (measured 22.6 at 48 M a slice, 28.5 at 10 M)
SLICE_SHARE = 0.7  # of the memory limit a slice is sized to; it spills to disk past 0.75 (queries.repeats)
MAX_COLLECTED_IDS = 500_000  # ids the scan may bring back from flagged buckets
UNKNOWN_SIZE_BUCKETS = 8  # flagged buckets collected when the window's size is unknown (no parts of its own)


def slices(
    events: int, memory_limit: int | None, bytes_per_id: int = BYTES_PER_HASH, share: float = SLICE_SHARE
) -> int:
    """Into how many slices of the hash space the repeats pass is cut so that each fits in SLICE_SHARE of the
    memory limit (as few as the plain count - uniqExact needs: each slice reads the ids again; spilling to
    disk is the safety net, about twice as slow). `events`: the window's, estimated from the table's parts;
    0 when unknown (one slice, which spills if it must). id_queries.hash_partitions sizes the mass
    duplication's hash pass the same way, with its own bytes per id and share."""
    if memory_limit is None or events <= 0:
        return 1
    return max(1, -(-events * bytes_per_id // int(share * memory_limit)))


def flagged(rows: list[dict]) -> list[int]:
    """The buckets (keys) the repeats pass found holding some id more than once."""
    return sorted(int(r["k"]) for r in rows if int(r["extra"]) > 0)


def collectable(keys: list[int], events: int, parts: int) -> bool:
    """Whether the scan can bring back every id of these buckets (about events / buckets each; with the
    window's size unknown, at most UNKNOWN_SIZE_BUCKETS of them)."""
    per_bucket = events / (REPEAT_BUCKETS * parts) if events > 0 else MAX_COLLECTED_IDS / UNKNOWN_SIZE_BUCKETS
    return len(keys) * per_bucket <= MAX_COLLECTED_IDS


def duplicate_rows(tenant_rows: list[dict]) -> list[dict]:
    """From the ids the scan collected per tenant (one entry per stored row): per tenant, the ids stored
    more than once anywhere in the window (cross-tenant copies count for every tenant holding one), the
    extra rows they add, and one example; the same rows as queries.duplicates."""
    stored = Counter(i for r in tenant_rows for i in r["repeat_ids"])
    out = []
    for r in tenant_rows:
        ids = {i for i in r["repeat_ids"] if stored[i] > 1}
        if ids:
            out.append(
                {
                    "t": r["t"],
                    "duplicated_ids": len(ids),
                    "extra_rows": sum(stored[i] - 1 for i in ids),
                    "example_event_id": min(ids),
                }
            )
    return sorted(out, key=lambda r: (-r["extra_rows"], r["t"]))
