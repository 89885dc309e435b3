"""`[cluster] peers`: other servers consuming the same topics in consumer-group mode answer their part of a
query, so any server answers over every server's rows.

A server asks each peer for its *local* part (`POST /internal/partial`: the SQL, the time left, and the
Delta version this server read, if any). The peer plans the same SQL, runs it on its own workers only —
never on the deep store, never on its own peers — leaving out its sealed segments that Delta version holds,
and returns its workers' partial answers (Arrow IPC, base64) with their counts. The asking server merges
them with its own workers' and the Delta table's, exactly as its workers' parts. The group protocol gives
each row to one server, so the parts are disjoint. Only tables in consumer-group mode are asked about (two
lowLevel servers on one topic each hold every row). A peer that fails or is late makes the answer partial
(`partialResult`, like a worker that does not answer). Requests carry this server's first Bearer token (or
Basic user), so peers with the same `[auth]` accept them. The body is JSON with SQL text only: nothing a
peer sends is ever unpickled.
"""

from __future__ import annotations

import base64
import concurrent.futures
import logging
import time
from collections.abc import Sequence
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.ipc as ipc

from ingestd.messages import QueryReply
from ingestd.settings import AuthSettings

log = logging.getLogger(__name__)

PARTIAL_PATH = "/internal/partial"
PEER_WORKER_IDS = -100  # peer i's reply is numbered -100 - i
_COUNTS = ("matched_docs", "total_docs", "segments", "consuming_segments", "segments_processed",
           "segments_matched", "freshness_ms")


def encode_partial(replies: Sequence[QueryReply], missing: int) -> dict[str, Any]:
    """A peer's answer, JSON-ready: its workers' partial results as one table, their counts summed, and
    how many of its workers did not answer (then the asking server counts the peer as not answering)."""
    errors = [reply.error for reply in replies if reply.error is not None]
    document: dict[str, Any] = {name: sum(getattr(reply, name) for reply in replies) for name in _COUNTS}
    document["freshness_ms"] = min((r.freshness_ms for r in replies if r.freshness_ms), default=0)
    document["missing"] = missing
    if errors:
        document["error"] = list(errors[0])
    tables = [reply.result for reply in replies if reply.result is not None]
    if tables and not errors:
        table = pa.concat_tables(tables, promote_options="permissive")
        sink = pa.BufferOutputStream()
        with ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        document["result"] = base64.b64encode(sink.getvalue().to_pybytes()).decode()
    return document


def decode_partial(document: Any, request_id: int, worker_id: int) -> QueryReply | None:
    """The peer's part as one more partial answer; None when the peer's own answer was incomplete."""
    if not isinstance(document, dict) or document.get("missing"):
        return None
    error = document.get("error")
    result = None
    if document.get("result"):
        result = ipc.open_stream(pa.py_buffer(base64.b64decode(document["result"]))).read_all()
    return QueryReply(request_id, worker_id, result=result,
                      error=(int(error[0]), str(error[1])) if error else None,
                      **{name: int(document.get(name) or 0) for name in _COUNTS})


class Peers:
    def __init__(self, urls: Sequence[str], auth: AuthSettings) -> None:
        self._urls = list(urls)
        headers = {"Authorization": f"Bearer {auth.tokens[0]}"} if auth.tokens else {}
        basic = auth.users[0] if auth.users and not auth.tokens else None
        self._client = httpx.Client(headers=headers, auth=basic, timeout=30)
        self._pool = concurrent.futures.ThreadPoolExecutor(max(1, len(self._urls)), thread_name_prefix="peer")

    def __len__(self) -> int:
        return len(self._urls)

    def gather(self, sql: str, request_id: int, deadline: float, delta_version: int | None
               ) -> list[QueryReply]:
        """Every peer's local part of `sql`, one reply per peer that answered in full and in time."""
        futures = [self._pool.submit(self._ask, url, index, sql, request_id, deadline, delta_version)
                   for index, url in enumerate(self._urls)]
        return [reply for future in futures if (reply := future.result()) is not None]

    def _ask(self, url: str, index: int, sql: str, request_id: int, deadline: float,
             delta_version: int | None) -> QueryReply | None:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            response = self._client.post(url + PARTIAL_PATH, timeout=left + 1.0, json={
                "sql": sql, "timeoutMs": max(1, int(left * 1000)), "deltaVersion": delta_version})
            response.raise_for_status()
            return decode_partial(response.json(), request_id, PEER_WORKER_IDS - index)
        except Exception as exc:  # counted as a server that did not answer (partialResult)
            log.warning("peer %s did not answer query %d: %s", url, request_id, exc)
            return None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()
