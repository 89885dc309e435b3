"""The stream check's answers, per kind of failure, without a broker: which key each 400 names, and that
a secret a client library quotes never reaches the message (the real broker cases are in
tests/integration/test_table_creation_checks.py)."""

from __future__ import annotations

import pytest

from ingestd.config import parse_schema, parse_table_config
from ingestd.devtools.seed import seed_configs
from ingestd.errors import ConfigError, StreamError
from ingestd.stream.checks import StreamUnreachable, TopicNotFound, check_stream

KEY = "tableIndexConfig.streamConfigs.stream.kafka."
SECRET = "hunter2-secret-value"


class Provider:
    def __init__(self, failure: Exception | None) -> None:
        self.failure = failure
        self.closed = False

    def partition_ids(self) -> list[int]:
        if self.failure is not None:
            raise self.failure
        return [0, 1]

    def close(self) -> None:
        self.closed = True


class Factory:
    def __init__(self, failure: Exception | None) -> None:
        self.provider = Provider(failure)

    def metadata_provider(self) -> Provider:
        return self.provider


STREAM = parse_table_config(seed_configs("t", **{"stream.kafka.broker.list": "b1:9092"})[1],
                            {"t": parse_schema(seed_configs("t")[0])}).stream


@pytest.mark.parametrize(("failure", "key", "message"), [
    (TopicNotFound("gone"), "topic.name", "names topic 'transcript-topic', which does not exist on b1:9092"),
    (StreamUnreachable(f"timed out, sasl.password={SECRET}"), "broker.list",
     "'b1:9092' cannot be reached: timed out, sasl.password=********"),
    (StreamError("authorization failed"), "topic.name", "names topic 'transcript-topic', which cannot be "
                                                        "read: authorization failed"),
])
def test_each_failure_names_its_key(failure: Exception, key: str, message: str) -> None:
    factory = Factory(failure)
    with pytest.raises(ConfigError) as raised:
        check_stream(factory, STREAM, [SECRET])  # type: ignore[arg-type]
    assert raised.value.path == KEY + key and raised.value.problem.startswith(message)
    assert factory.provider.closed


def test_a_stream_that_answers_passes() -> None:
    check_stream(Factory(None), STREAM)  # type: ignore[arg-type]
