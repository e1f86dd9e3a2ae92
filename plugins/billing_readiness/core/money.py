"""Money in Decimal: ClickHouse sums cost as integer nano-dollars (exact, order-independent), Python rounds once."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# Per-event cost in integer nano-dollars (floor, not round: round() breaks ties differently across ClickHouse
# versions). A NaN or infinite cost counts 0 here: it is never summed into a figure, it is a finding of its own
# (cost_values.py). The guard is inside the conversion: current ClickHouse refuses to convert NaN to an integer
# even in an if() branch it does not take, and 18.16 silently returns garbage.
NANOS_SQL = "toInt64(floor(if(isFinite({col}), {col}, 0) * 1000000000 + 0.5))"
CENT = Decimal("0.01")


def from_nanos(nanos: int) -> Decimal:
    return Decimal(int(nanos)).scaleb(-9)


def from_float(value: float) -> Decimal:
    """A Float64 sum read from a rollup, as the Decimal of its shortest repr."""
    return Decimal(repr(float(value)))


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)
