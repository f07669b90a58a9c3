"""Kinesis Data Firehose, the part a stream archive uses: an `AWS::KinesisFirehose::DeliveryStream` whose
source is a Kinesis stream and whose destination is S3 (`ExtendedS3DestinationConfiguration`), delivering as
Firehose describes it (https://docs.aws.amazon.com/firehose/latest/dev/): records read from every shard in
order, buffered per partition until the buffer holds `SizeInMBs` or its first record has waited
`IntervalInSeconds`, then written as one object at `<evaluated prefix><stream name>-<version>-<yyyy-MM-dd-HH-
mm-ss>-<uuid>` (plus `.gz` for GZIP); with dynamic partitioning, each record's partition keys come from the
`MetadataExtraction` processor's JQ query, and a record whose keys cannot be extracted goes to the
`ErrorOutputPrefix` as an error document.

The subset emulated, and everything else refused with the reason when the local cloud starts:

- source: `DeliveryStreamType: KinesisStreamAsSource` only (`KinesisStreamSourceConfiguration`);
- destination: `ExtendedS3DestinationConfiguration` only: `BucketARN`, `Prefix`, `ErrorOutputPrefix`,
  `BufferingHints`, `CompressionFormat` (`UNCOMPRESSED`, `GZIP`), `EncryptionConfiguration`
  (`KMSEncryptionConfig`: objects written with SSE-KMS and that key), `DynamicPartitioningConfiguration`;
- processors: `MetadataExtraction` (`MetadataExtractionQuery`, `JsonParsingEngine: JQ-1.6`, run with the
  `jq` package's libjq, a later jq than Firehose's 1.6) and `AppendDelimiterToRecord` (a newline after
  each record);
- prefix expressions: `!{partitionKeyFromQuery:KEY}`, `!{timestamp:FORMAT}` (Java DateTimeFormatter
  letters `yyyy MM dd HH mm ss` and 'quoted' literals, from the approximate arrival time of the object's
  oldest record, UTC), `!{firehose:error-output-type}`, `!{firehose:random-string}`;
- ignored, with no effect locally: `RoleARN`, `CloudWatchLoggingOptions`, `RetryOptions`,
  `S3BackupMode: Disabled`;
- refused: Direct PUT and MSK sources, every other destination, `DataFormatConversionConfiguration`
  enabled, Lambda processors, record de-aggregation, `partitionKeyFromLambda`, a `CustomTimeZone` other
  than UTC, an S3 backup.

What the local cloud chooses where the guide says nothing it could check: the error output type of a
record whose partition keys could not be extracted is `partitioning-failed`; its error document has the
fields of the guide's format-conversion error document (`attemptsMade`, `arrivalTimestamp`, `errorCode`,
`errorMessage`, `attemptEndingTimestamp`, `rawData` in base64, `sequenceNumber`, `subSequenceNumber`), one
JSON document per line; the stream version in the object name is always 1. AWS's range checks on the
buffering hints (with dynamic partitioning at least 64 MB and 60 s, says the template's linter) are not
repeated: a sample may buffer for a second.

`flush()` delivers every buffer at once, as if each one's interval had run out: what a test (or the
console's operator) uses instead of waiting up to 15 minutes. A stream's position per shard is the last
record delivered with nothing undelivered before it, saved with the state (a record in a buffer at a stop is
read again after the restart: at least once, as Firehose's own restarts are)."""

from __future__ import annotations

import base64
import gzip
import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from localcloud.template import TemplateError

if TYPE_CHECKING:
    from collections.abc import Callable

    from localcloud.motoserver import WriteSignal
    from localcloud.stack import Stack

__all__ = ["DeliverySpec", "DeliveryStream", "delivery_specs", "evaluate_prefix"]

TYPE = "AWS::KinesisFirehose::DeliveryStream"
PARTITIONING_FAILED = "partitioning-failed"
IDLE_WAIT_SECONDS = 2.0
FETCH_LIMIT = 10_000
_EXPRESSION = re.compile(r"!\{([A-Za-z]+):([^}]*)\}")
_JAVA_LETTERS = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}


@dataclass(frozen=True)
class DeliverySpec:
    """One delivery stream, as the template declares it (the subset above)."""

    logical_id: str
    name: str
    stream_arn: str
    bucket: str
    prefix: str
    error_prefix: str
    size_bytes: int
    interval_seconds: float
    gzip: bool
    kms_key: str | None
    query: str | None  # the MetadataExtraction JQ query, with dynamic partitioning
    append_newline: bool


def _refuse(logical_id: str, what: str) -> TemplateError:
    return TemplateError(f"{logical_id} ({TYPE}): {what} is not emulated by the local cloud")


def delivery_specs(stack: Stack) -> list[DeliverySpec]:
    """Every delivery stream of the stack, checked against what is emulated (TemplateError otherwise)."""
    specs = []
    for logical_id in stack.of_type(TYPE):
        properties = stack.properties(logical_id)
        specs.append(_spec(logical_id, properties))
    return specs


def _spec(logical_id: str, properties: dict[str, Any]) -> DeliverySpec:
    kind = properties.get("DeliveryStreamType", "DirectPut")
    if kind != "KinesisStreamAsSource":
        raise _refuse(logical_id, f"DeliveryStreamType {kind} (only KinesisStreamAsSource)")
    others = [
        key
        for key in properties
        if key.endswith("DestinationConfiguration") and key != "ExtendedS3DestinationConfiguration"
    ]
    if others or "ExtendedS3DestinationConfiguration" not in properties:
        raise _refuse(logical_id, f"a destination other than ExtendedS3DestinationConfiguration ({others})")
    destination = properties["ExtendedS3DestinationConfiguration"]
    if destination.get("DataFormatConversionConfiguration", {}).get("Enabled", False):
        raise _refuse(logical_id, "DataFormatConversionConfiguration (record format conversion)")
    if destination.get("S3BackupMode", "Disabled") != "Disabled":
        raise _refuse(logical_id, "an S3 backup (S3BackupMode)")
    if destination.get("CustomTimeZone", "UTC") != "UTC":
        raise _refuse(logical_id, "a CustomTimeZone other than UTC")
    compression = destination.get("CompressionFormat", "UNCOMPRESSED")
    if compression not in ("UNCOMPRESSED", "GZIP"):
        raise _refuse(logical_id, f"CompressionFormat {compression} (UNCOMPRESSED or GZIP)")
    dynamic = bool(destination.get("DynamicPartitioningConfiguration", {}).get("Enabled", False))
    query, append_newline = None, False
    processing = destination.get("ProcessingConfiguration", {})
    if processing.get("Enabled", False):
        for processor in processing.get("Processors", []):
            parameters = {p["ParameterName"]: p["ParameterValue"] for p in processor.get("Parameters", [])}
            if processor["Type"] == "MetadataExtraction":
                engine = parameters.get("JsonParsingEngine", "JQ-1.6")
                if engine != "JQ-1.6":
                    raise _refuse(logical_id, f"JsonParsingEngine {engine}")
                query = str(parameters["MetadataExtractionQuery"])
            elif processor["Type"] == "AppendDelimiterToRecord":
                append_newline = True
            else:
                raise _refuse(logical_id, f"a {processor['Type']} processor")
    prefix = str(destination.get("Prefix", ""))
    if "partitionKeyFromLambda" in prefix:
        raise _refuse(logical_id, "!{partitionKeyFromLambda:...}")
    if "partitionKeyFromQuery" in prefix and (not dynamic or query is None):
        raise TemplateError(
            f"{logical_id}: its Prefix uses partitionKeyFromQuery without dynamic partitioning and a "
            "MetadataExtraction processor (Firehose refuses it too)"
        )
    if dynamic and not destination.get("ErrorOutputPrefix"):
        raise TemplateError(
            f"{logical_id}: dynamic partitioning needs an ErrorOutputPrefix (Firehose's rule)"
        )
    for which in ("Prefix", "ErrorOutputPrefix"):  # refused now, not at the first delivery
        expression = str(destination.get(which, ""))
        names = {
            m.group(2) for m in _EXPRESSION.finditer(expression) if m.group(1) == "partitionKeyFromQuery"
        }
        try:
            evaluate_prefix(expression, keys=dict.fromkeys(names, "key"), arrival=0.0, error_type="type")
        except TemplateError as exc:
            raise TemplateError(f"{logical_id}: its {which}: {exc}") from exc
    hints = destination.get("BufferingHints", {})
    kms = destination.get("EncryptionConfiguration", {}).get("KMSEncryptionConfig", {})
    stream_arn = str(properties["KinesisStreamSourceConfiguration"]["KinesisStreamARN"])
    return DeliverySpec(
        logical_id=logical_id,
        name=str(properties.get("DeliveryStreamName") or f"localcloud-{logical_id}"),
        stream_arn=stream_arn,
        bucket=str(destination["BucketARN"]).removeprefix("arn:aws:s3:::"),
        prefix=prefix,
        error_prefix=str(destination.get("ErrorOutputPrefix", "")),
        size_bytes=int(float(hints.get("SizeInMBs", 5)) * 1024 * 1024),
        interval_seconds=float(hints.get("IntervalInSeconds", 300)),
        gzip=compression == "GZIP",
        kms_key=str(kms["AWSKMSKeyARN"]) if kms.get("AWSKMSKeyARN") else None,
        query=query if dynamic else None,
        append_newline=append_newline,
    )


def _java_time(pattern: str, moment: datetime) -> str:
    """A Java DateTimeFormatter pattern (the letters Firehose prefixes use, and 'quoted' literals)."""
    out = []
    for quoted, letters in re.findall(r"'([^']*)'|(yyyy|MM|dd|HH|mm|ss|.)", pattern):
        if quoted or not letters:
            out.append(quoted)
        elif letters in _JAVA_LETTERS:
            out.append(moment.strftime(_JAVA_LETTERS[letters]))
        elif letters.isalpha():
            raise TemplateError(f"timestamp pattern {pattern!r}: {letters!r} is not emulated")
        else:
            out.append(letters)
    return "".join(out)


def evaluate_prefix(
    prefix: str, *, keys: dict[str, str] | None = None, arrival: float, error_type: str | None = None
) -> str:
    """The prefix with its `!{namespace:value}` expressions evaluated."""
    moment = datetime.fromtimestamp(arrival, UTC)

    def value(match: re.Match[str]) -> str:
        namespace, name = match.group(1), match.group(2)
        if namespace == "partitionKeyFromQuery":
            if keys is None or name not in keys:
                raise KeyError(f"partition key {name!r} not extracted")
            return keys[name]
        if namespace == "timestamp":
            return _java_time(name, moment)
        if namespace == "firehose" and name == "error-output-type":
            return error_type or ""
        if namespace == "firehose" and name == "random-string":
            return uuid.uuid4().hex[:11]
        raise TemplateError(f"prefix expression !{{{namespace}:{name}}} is not emulated")

    return _EXPRESSION.sub(value, prefix)


@dataclass
class _Record:
    shard: str
    sequence: str
    data: bytes
    arrival: float  # the Kinesis record's approximate arrival, epoch seconds
    entry: list[Any] = field(default_factory=list)  # [sequence, delivered] in its shard's pending list


@dataclass
class _Buffer:
    keys: dict[str, str] | None
    error_type: str | None = None
    records: list[_Record] = field(default_factory=list)
    size: int = 0
    opened: float = 0.0  # monotonic time of its first record


class DeliveryStream(threading.Thread):
    """One delivery stream: reads its Kinesis stream's shards, buffers per partition, writes to S3."""

    def __init__(
        self,
        spec: DeliverySpec,
        client: Callable[[str], Any],
        signal: WriteSignal,
        say: Callable[[str], None],
        positions: dict[str, str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name=f"firehose:{spec.logical_id}", daemon=True)
        self.spec = spec
        self.key = spec.logical_id
        self.idle = False
        self.delivered_objects = 0
        self._client = client
        self._signal = signal
        self._say = say
        self._clock = clock
        self._stopping = threading.Event()
        self._lock = threading.RLock()
        self._buffers: dict[str, _Buffer] = {}
        self._pending: dict[str, deque[list[Any]]] = {}
        self._checkpoints: dict[str, str] = {}
        self._iterators: dict[str, str | None] = {}
        self._stream_name = spec.stream_arn.rsplit("/", 1)[-1]
        self._resume = {
            key.rsplit("/", 1)[-1]: value
            for key, value in positions.items()
            if key.startswith(f"{spec.logical_id}/")
        }
        self._compiled: Any = None
        if spec.query is not None:
            import jq

            self._compiled = jq.compile(spec.query)

    # ----- the loop -----

    def stop(self) -> None:
        self._stopping.set()
        self._signal.notify()

    def run(self) -> None:
        while not self._stopping.is_set():
            seen = self._signal.generation(self._stream_name)
            try:
                with self._lock:
                    read = self._read_once()
                    self._deliver(due_only=True)
            except Exception as exc:
                if self._stopping.is_set():
                    return
                self._say(f"[localcloud] delivery stream {self.spec.logical_id} failed: {exc!r}; retrying")
                self._stopping.wait(1.0)
                continue
            self.idle = read == 0
            if read == 0:
                self._signal.wait(self._stream_name, seen, self._next_wait())

    def _next_wait(self) -> float:
        with self._lock:
            if not self._buffers:
                return IDLE_WAIT_SECONDS
            oldest = min(buffer.opened for buffer in self._buffers.values())
        return max(0.05, min(IDLE_WAIT_SECONDS, oldest + self.spec.interval_seconds - self._clock()))

    def _read_once(self) -> int:
        kinesis = self._client("kinesis")
        if not self._iterators:
            for shard in kinesis.list_shards(StreamName=self._stream_name)["Shards"]:
                shard_id = shard["ShardId"]
                where: dict[str, str] = {"ShardIteratorType": "TRIM_HORIZON"}
                if shard_id in self._resume:
                    where = {
                        "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                        "StartingSequenceNumber": self._resume[shard_id],
                    }
                    self._checkpoints[shard_id] = self._resume[shard_id]
                self._iterators[shard_id] = kinesis.get_shard_iterator(
                    StreamName=self._stream_name, ShardId=shard_id, **where
                )["ShardIterator"]
                self._pending[shard_id] = deque()
        read = 0
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            response = kinesis.get_records(ShardIterator=iterator, Limit=FETCH_LIMIT)
            self._iterators[shard_id] = response.get("NextShardIterator")
            for raw in response["Records"]:
                arrived = raw["ApproximateArrivalTimestamp"]
                arrival = arrived.timestamp() if isinstance(arrived, datetime) else float(arrived)
                self._take(_Record(shard_id, raw["SequenceNumber"], raw["Data"], arrival))
                read += 1
        return read

    # ----- buffering -----

    def _take(self, record: _Record) -> None:
        keys: dict[str, str] | None = None
        error: str | None = None
        if self._compiled is not None:
            try:
                extracted = self._compiled.input_text(record.data.decode()).first()
                if not isinstance(extracted, dict) or not extracted:
                    raise ValueError(f"the query gave {extracted!r}, not an object of partition keys")
                keys = {str(k): _key_value(v) for k, v in extracted.items()}
                evaluate_prefix(self.spec.prefix, keys=keys, arrival=record.arrival)  # every key present?
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            entry = [record.sequence, False]
            record.entry = entry
            self._pending[record.shard].append(entry)
            if error is not None:
                buffer_key = f"error:{PARTITIONING_FAILED}"
                buffer = self._buffers.setdefault(buffer_key, _Buffer(None, PARTITIONING_FAILED))
                body = self._error_document(record, error)
            else:
                buffer_key = json.dumps(keys, sort_keys=True)
                buffer = self._buffers.setdefault(buffer_key, _Buffer(keys))
                body = record.data + (b"\n" if self.spec.append_newline else b"")
            if not buffer.records:
                buffer.opened = self._clock()
            buffer.records.append(record)
            record.data = body
            buffer.size += len(body)
            if buffer.size >= self.spec.size_bytes:
                self._write(buffer_key)

    def _error_document(self, record: _Record, message: str) -> bytes:
        now = int(time.time() * 1000)
        document = {
            "attemptsMade": 1,
            "arrivalTimestamp": int(record.arrival * 1000),
            "errorCode": "DynamicPartitioning.MetadataExtractionFailed",
            "errorMessage": message,
            "attemptEndingTimestamp": now,
            "rawData": base64.b64encode(record.data).decode(),
            "sequenceNumber": record.sequence,
            "subSequenceNumber": 0,
        }
        return json.dumps(document).encode() + b"\n"

    def flush(self) -> int:
        """Deliver every buffer now, as if its interval had run out (after reading what the stream holds):
        the number of objects written."""
        with self._lock:
            before = self.delivered_objects
            self._read_once()
            self._deliver(due_only=False)
            return self.delivered_objects - before

    def _deliver(self, *, due_only: bool) -> None:
        with self._lock:
            now = self._clock()
            for buffer_key in list(self._buffers):
                buffer = self._buffers[buffer_key]
                if not due_only or now - buffer.opened >= self.spec.interval_seconds:
                    self._write(buffer_key)

    def _write(self, buffer_key: str) -> None:
        """One buffer to one object; the buffer is let go only once S3 has it, so a failed put (kept and
        tried again, as Firehose retries) loses nothing and the shard's position does not move past it."""
        buffer = self._buffers[buffer_key]
        if not buffer.records:
            del self._buffers[buffer_key]
            return
        oldest = min(record.arrival for record in buffer.records)
        if buffer.error_type is not None:
            prefix = evaluate_prefix(self.spec.error_prefix, arrival=oldest, error_type=buffer.error_type)
        else:
            prefix = evaluate_prefix(self.spec.prefix, keys=buffer.keys, arrival=oldest)
        moment = datetime.fromtimestamp(time.time(), UTC)
        key = f"{prefix}{self.spec.name}-1-{moment:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}"
        body = b"".join(record.data for record in buffer.records)
        extra: dict[str, Any] = {}
        if self.spec.gzip:
            body, key = gzip.compress(body), key + ".gz"
        if self.spec.kms_key:
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.spec.kms_key}
        self._client("s3").put_object(Bucket=self.spec.bucket, Key=key, Body=body, **extra)
        del self._buffers[buffer_key]
        self.delivered_objects += 1
        for record in buffer.records:
            record.entry[1] = True
        for shard_id, pending in self._pending.items():
            while pending and pending[0][1]:
                self._checkpoints[shard_id] = pending.popleft()[0]

    # ----- what the local cloud asks -----

    @property
    def buffered(self) -> int:
        with self._lock:
            return sum(len(buffer.records) for buffer in self._buffers.values())

    def positions(self) -> dict[str, str]:
        with self._lock:
            return {f"{self.key}/{shard}": sequence for shard, sequence in self._checkpoints.items()}


def _key_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        raise ValueError("a partition key is null")
    return json.dumps(value)
