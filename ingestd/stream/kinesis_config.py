"""A Kinesis table's stream settings, read from Pinot's keys (KinesisConfig) and checked, naming the key.

Pinot's keys sit at the top of the stream config map, beside `streamType`:

    stream.kinesis.topic.name   the stream's name (required)
    region                      AWS region (required, as in Pinot)
    endpoint                    a Kinesis-compatible endpoint URL (LocalStack, moto); default AWS's
    accessKey, secretKey        static credentials (both or neither); without them boto3's default chain
                                (AWS_* environment variables, shared config/credentials files, instance role)
    shardIteratorType           where a shard with no checkpoint starts when auto.offset.reset is not set:
                                TRIM_HORIZON or LATEST (default, as Pinot's). AT_SEQUENCE_NUMBER,
                                AFTER_SEQUENCE_NUMBER and AT_TIMESTAMP are accepted as Pinot accepts them, but
                                name no sequence number or time: the start then follows auto.offset.reset
    maxRecordsToFetch           records per GetRecords call, 1..10000 (default 10000)
    requests_per_second_limit   GetRecords calls per second per shard (default 1.0, Pinot's; Kinesis allows 5)

`stream.kinesis.consumer.prop.auto.offset.reset` (smallest/largest) wins over shardIteratorType when set.
Pinot's IAM-role keys (`iamRoleBasedAccessEnabled`, `roleArn`...) are known; enabling role access is
refused as not supported yet (boto3's default chain already uses an instance or task role).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlparse

from ingestd.config.table import OffsetReset, StreamConfig
from ingestd.errors import ConfigError, NotSupportedYet

REGION = "region"
ENDPOINT = "endpoint"
ACCESS_KEY = "accessKey"
SECRET_KEY = "secretKey"
SHARD_ITERATOR_TYPE = "shardIteratorType"
MAX_RECORDS = "maxRecordsToFetch"
RPS_LIMIT = "requests_per_second_limit"
IAM_ROLE = "iamRoleBasedAccessEnabled"
IAM_KEYS = (IAM_ROLE, "roleArn", "roleSessionName", "externalId", "sessionDurationSeconds",
            "asyncSessionUpdateEnabled")
# Every key of Pinot's KinesisConfig: known (never reported as unrecognized) for streamType kinesis.
KINESIS_KEYS = frozenset((REGION, ENDPOINT, ACCESS_KEY, SECRET_KEY, SHARD_ITERATOR_TYPE, MAX_RECORDS,
                          RPS_LIMIT, *IAM_KEYS))
ITERATOR_TYPES = ("TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "AT_TIMESTAMP")
KINESIS_MAX_RECORDS = 10_000  # GetRecords' own limit
_RESET_KEY = "stream.kinesis.consumer.prop.auto.offset.reset"


@dataclass(frozen=True)
class KinesisSettings:
    stream_name: str
    region: str
    endpoint: str | None
    access_key: str | None
    secret_key: str | None
    start: OffsetReset  # where a shard with no checkpoint starts (smallest = TRIM_HORIZON)
    max_records: int
    requests_per_second: float

    @property
    def request_interval_s(self) -> float:
        return 1.0 / self.requests_per_second


def kinesis_settings(config: StreamConfig) -> KinesisSettings:
    """The settings of a Kinesis stream config; ConfigError naming the key path of the first mistake."""
    props = config.properties

    def path(key: str) -> str:
        return config.key_path(key)

    region = props.get(REGION, "").strip()
    if not region:
        raise ConfigError(path(REGION), "is missing: a Kinesis stream needs its AWS region (e.g. us-east-1)")
    endpoint = props.get(ENDPOINT, "").strip() or None
    if endpoint is not None:
        parsed = urlparse(endpoint)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(path(ENDPOINT), f"must be an http:// or https:// URL, got {endpoint!r}")
    access_key, secret_key = props.get(ACCESS_KEY) or None, props.get(SECRET_KEY) or None
    if (access_key is None) != (secret_key is None):
        missing = SECRET_KEY if secret_key is None else ACCESS_KEY
        raise ConfigError(path(missing), f"is missing: {ACCESS_KEY} and {SECRET_KEY} go together (or leave "
                          "both out to use the AWS environment's credentials)")
    if props.get(IAM_ROLE, "false").strip().lower() == "true":
        raise NotSupportedYet(path(IAM_ROLE), "assuming an IAM role (boto3's default credential chain, "
                              "without accessKey/secretKey, uses the instance's or task's role)")
    return KinesisSettings(
        stream_name=config.topic,
        region=region,
        endpoint=endpoint,
        access_key=access_key,
        secret_key=secret_key,
        start=_start(config, path(SHARD_ITERATOR_TYPE)),
        max_records=_max_records(props.get(MAX_RECORDS, str(KINESIS_MAX_RECORDS)), path(MAX_RECORDS)),
        requests_per_second=_rps(props.get(RPS_LIMIT, "1.0"), path(RPS_LIMIT)),
    )


def _start(config: StreamConfig, key_path: str) -> OffsetReset:
    iterator_type = config.properties.get(SHARD_ITERATOR_TYPE, "LATEST").strip().upper()
    if iterator_type not in ITERATOR_TYPES:
        raise ConfigError(key_path, f"must be one of {', '.join(ITERATOR_TYPES)}, got {iterator_type!r}")
    if _RESET_KEY in config.properties or iterator_type not in ("TRIM_HORIZON", "LATEST"):
        return config.offset_reset
    return OffsetReset.SMALLEST if iterator_type == "TRIM_HORIZON" else OffsetReset.LARGEST


def _max_records(text: str, key_path: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise ConfigError(key_path, f"must be a whole number, got {text!r}") from None
    if not 1 <= value <= KINESIS_MAX_RECORDS:
        raise ConfigError(key_path, f"must be between 1 and {KINESIS_MAX_RECORDS} (GetRecords' limit), "
                          f"got {value}")
    return value


def _rps(text: str, key_path: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ConfigError(key_path, f"must be a number of requests per second, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(key_path, f"must be more than 0, got {text!r}")
    return value
