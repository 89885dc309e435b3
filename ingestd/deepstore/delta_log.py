"""Committing sealed segments to a table's Delta log, exactly once per stream partition and offset range.

`DeltaSegmentLog.commit` runs the protocol, in this order:
  1. read the Delta transaction version stored for the partition's application id: the last offset a
     commit covered (delta-rs keeps it in the log; it does not check versions itself: delta-rs issue 2580);
  2. decide: none stored, or `first offset - 1` stored → this segment is next (3); `last offset` or more
     stored → already committed: a DUPLICATE, dropped; an offset inside the segment → this server is
     STALE (another one moved the partition on); less than `first - 1` → a gap: committed across when
     the caller allows it (an offset reset skipped those offsets), else GapPending (retried later);
  3. upload the rows as one Parquet file into the table's directory (a crash now leaves an orphan file,
     which no commit references and `sweep_orphans` deletes later: never a duplicate row);
  4. commit one log entry holding both the file's add action and the transaction (application id,
     version = the segment's last offset); a concurrent commit touching the same application id fails
     it with CommitFailedError, and the protocol starts again at 1.
A store that cannot be reached raises OSError (or delta-rs' own errors) to the caller, which retries.
"""

from __future__ import annotations

import enum
import json
import time
import uuid
from collections.abc import Mapping
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable
from deltalake.exceptions import CommitFailedError, TableNotFoundError
from deltalake.transaction import AddAction, Transaction

MAX_ATTEMPTS = 5
FILE_PREFIX = "ingestd-"


class CommitOutcome(enum.Enum):
    COMMITTED = "committed"
    DUPLICATE = "duplicate"  # the log already covers these offsets: nothing written
    STALE = "stale"  # the log moved past this server's position without it: nothing written


class GapPending(Exception):
    """The Delta log lacks the offsets just before a segment: retried until they are committed."""


def application_id(table: str, topic: str, partition: int) -> str:
    return f"ingestd/{table}/{topic}/{partition}"


def delta_ready(rows: pa.Table) -> pa.Table:
    """Arrow columns as Delta stores them: dictionaries decoded, timestamps in microseconds UTC."""
    columns = []
    for column in rows.columns:
        if pa.types.is_dictionary(column.type):
            column = pc.cast(column, column.type.value_type)
        if pa.types.is_timestamp(column.type):
            column = pc.cast(column, pa.timestamp("us", tz="UTC"))
        columns.append(column)
    return pa.Table.from_arrays(columns, names=rows.column_names)


class DeltaSegmentLog:
    """One ingestd table's Delta table."""

    def __init__(self, table_uri: str, storage_options: Mapping[str, str]) -> None:
        self.uri = table_uri
        self._options = dict(storage_options)
        self._fs, self._root = _filesystem(table_uri, self._options)

    def committed_offset(self, app_id: str) -> int | None:
        """The last offset committed for `app_id` (a stream partition), or None."""
        try:
            table = DeltaTable(self.uri, storage_options=self._options)
        except TableNotFoundError:
            return None
        version = table.transaction_version(app_id)
        return None if version is None else int(version)

    def commit(self, app_id: str, first: int, last: int, rows: pa.Table, allow_gap: bool = False,
               label: str = "") -> CommitOutcome:
        """Commit the rows of offsets [first, last] (inclusive) for `app_id`, exactly once. A log that
        stops short of `first - 1` is a gap: committed across with `allow_gap` (the offsets between were
        skipped by an offset reset), else GapPending (another server's commits are still to come).
        `label` goes into the data file's name (query_source.py reads which segments a version holds)."""
        data = delta_ready(rows)
        for _ in range(MAX_ATTEMPTS):
            table = self._table(data.schema)
            stored = table.transaction_version(app_id)
            if stored is not None and stored >= last:
                return CommitOutcome.DUPLICATE
            if stored is not None and stored < first - 1 and not allow_gap:
                raise GapPending(f"{app_id}: waiting for offsets {stored + 1}-{first - 1} to be committed "
                                 "first (by the partition's previous owner)")
            if stored is not None and first <= stored:
                return CommitOutcome.STALE
            action = self._upload(data, label)
            try:
                table.create_write_transaction(
                    [action], mode="append", schema=data.schema,
                    commit_properties=CommitProperties(app_transactions=[Transaction(app_id, last)]))
                return CommitOutcome.COMMITTED
            except CommitFailedError:
                continue  # a concurrent commit: decide again from the new log (its file stays an orphan)
        raise CommitFailedError(f"{app_id}: {MAX_ATTEMPTS} conflicting commits in a row")

    def sweep_orphans(self, older_than_ms: int) -> list[str]:
        """Delete files in the table's directory that no commit references and that are older than
        `older_than_ms` (so an upload whose commit is still under way is never taken)."""
        try:
            table = DeltaTable(self.uri, storage_options=self._options)
        except TableNotFoundError:
            return []
        hours = max(0, older_than_ms // 3_600_000)
        return list(table.vacuum(retention_hours=hours, dry_run=False, enforce_retention_duration=False,
                                 full=True))

    def _table(self, schema: pa.Schema) -> DeltaTable:
        try:
            return DeltaTable(self.uri, storage_options=self._options)
        except TableNotFoundError:
            return DeltaTable.create(self.uri, schema, mode="ignore", storage_options=self._options)

    def _upload(self, data: pa.Table, label: str = "") -> AddAction:
        name = f"{FILE_PREFIX}{label + '-' if label else ''}{uuid.uuid4().hex}.parquet"
        path = f"{self._root}/{name}"
        with self._fs.open_output_stream(path) as out:
            pq.write_table(data, out)
        size = self._fs.get_file_info(path).size or 0
        return AddAction(name, size, {}, int(time.time() * 1000), True,
                         json.dumps({"numRecords": data.num_rows}))


def _filesystem(uri: str, options: Mapping[str, str]) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem for the table's directory, reaching the same store delta-rs does."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        local = pafs.LocalFileSystem()
        local.create_dir(parsed.path, recursive=True)
        return local, parsed.path
    endpoint = options.get("AWS_ENDPOINT_URL")
    kwargs: dict[str, str] = {}
    if endpoint:
        endpoint_url = urlparse(endpoint)
        kwargs["endpoint_override"] = endpoint_url.netloc or endpoint
        kwargs["scheme"] = endpoint_url.scheme or "https"
    if options.get("AWS_REGION"):
        kwargs["region"] = options["AWS_REGION"]
    return pafs.S3FileSystem(**kwargs), f"{parsed.netloc}{parsed.path}".rstrip("/")
