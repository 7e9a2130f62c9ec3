"""Small deterministic drawing helpers the planner and the table builders share."""

from __future__ import annotations

import datetime as dt
import random

from pipelines.demo.names import person_name


def rng_for(seed: int, *parts) -> random.Random:
    """A generator of its own for each (seed, parts): deterministic and independent of call order."""
    return random.Random(":".join(str(part) for part in (seed, *parts)))


def split_total(rng: random.Random, total: int, weights: list[float]) -> list[int]:
    """Integers proportional to `weights` that sum to `total` exactly."""
    scale = sum(weights)
    parts = [int(total * weight / scale) for weight in weights]
    for index in rng.sample(range(len(parts)), len(parts))[: total - sum(parts)]:
        parts[index] += 1
    return parts


def unique_pairs(rng: random.Random, count: int, employers) -> list[tuple[str, str]]:
    """`count` distinct (person name, employer) pairs."""
    seen: set[tuple[str, str]] = set()
    pairs = []
    while len(pairs) < count:
        pair = (person_name(rng), rng.choice(employers))
        if pair not in seen:
            seen.add(pair)
            pairs.append(pair)
    return pairs


def quota(rng: random.Random, count: int, share: float, yes, no) -> list:
    """`count` values with round(count × share) of them `yes`, shuffled."""
    hits = round(count * share)
    values = [yes] * hits + [no] * (count - hits)
    rng.shuffle(values)
    return values


def school_year_date(rng: random.Random, year: int) -> dt.date:
    start = dt.date(year - 1, 9, 1)
    return start + dt.timedelta(days=rng.randrange(365))
