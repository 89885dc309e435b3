"""`stream.kafka.partition.ids`: a table that consumes only some of its topic's partitions.

Pinot's forms, mixable: single ids `0,2,5` and inclusive ranges `0-99`, so `0-99,200,300-399`. Duplicates
collapse; at most 10,000 ids (a typo like `0-9999999` is an error, not a huge table). Every id must exist in
the topic: a missing one is reported by the metadata provider, naming the ids the topic has.
"""

from __future__ import annotations

from ingestd.errors import ConfigError, StreamError

MAX_PARTITION_IDS = 10_000


class MissingPartitions(StreamError):
    """The table names partitions its topic does not have (the key to fix is partition.ids)."""


def parse_partition_ids(value: str | None, path: str) -> tuple[int, ...] | None:
    """The sorted ids `value` names; None when it is absent or blank (every partition)."""
    if value is None or not value.strip():
        return None
    ids: set[int] = set()
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        first, dash, last = part.partition("-")
        if dash and first.strip():
            start, end = _id(first, part, path), _id(last, part, path)
            if start > end:
                raise ConfigError(path, f"range {part!r} starts after it ends")
            if len(ids) + end - start + 1 > MAX_PARTITION_IDS:
                raise ConfigError(path, f"names more than {MAX_PARTITION_IDS} partitions")
            ids.update(range(start, end + 1))
        else:
            ids.add(_id(part, part, path))
        if len(ids) > MAX_PARTITION_IDS:
            raise ConfigError(path, f"names more than {MAX_PARTITION_IDS} partitions")
    return tuple(sorted(ids)) if ids else None


def _id(text: str, part: str, path: str) -> int:
    text = text.strip()
    if not text.isdigit():
        raise ConfigError(path, f"must list partition ids (non-negative integers) and ranges like '0-99', "
                                f"got {part!r}")
    return int(text)


def select_partitions(topic: str, available: list[int], wanted: tuple[int, ...] | None) -> list[int]:
    """The partitions a table consumes: `wanted` (all of them existing), or every one available."""
    if wanted is None:
        return available
    missing = sorted(set(wanted) - set(available))
    if missing:
        raise MissingPartitions(f"stream.kafka.partition.ids names partitions {missing} that topic {topic!r} "
                                f"does not have (it has {available})")
    return list(wanted)
