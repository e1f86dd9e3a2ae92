"""The one quantile function, its method named where it is used.

- "nearest_rank": the smallest sample with at least q of the samples at or below it (a sample that happened).
  Check 3's p50 and p95 of the dashboard loads: with the default 5 repetitions the p95 is the slowest load,
  stricter than an interpolated p95, which is the side a gate errs on (docs/checks.md).
- "linear": linear interpolation between the two nearest ranks (statistics.quantiles' "inclusive" method).
  Check 1's usual quiet spell (the upper quartile of earlier days' silences).
"""

from __future__ import annotations

import math
import statistics
from typing import Literal


def quantile(values: list[float] | list[int], q: float, method: Literal["nearest_rank", "linear"]) -> float:
    """The q-quantile (0 < q < 1) of a non-empty list."""
    if not values:
        raise ValueError("the quantile of no values")
    ordered = sorted(values)
    if method == "nearest_rank":
        return ordered[max(1, math.ceil(q * len(ordered))) - 1]
    if len(ordered) == 1:
        return ordered[0]
    cuts = statistics.quantiles(ordered, n=1000, method="inclusive")  # cut i is the i/1000 quantile
    return cuts[round(q * 1000) - 1]
