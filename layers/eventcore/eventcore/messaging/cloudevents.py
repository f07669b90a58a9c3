"""Events leaving the bounded context as CloudEvents 1.0 (JSON format): the stored fact plus the attributes
a consumer needs to route, order and deduplicate it. The type carries the schema version, so a consumer
knows which shape `data` has: `<type prefix>.<EventType>.v<schema version>`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eventcore.errors import EventCoreError
from eventcore.write.store import aggregate_id

if TYPE_CHECKING:
    from eventcore.write.store import Commit

SPEC_VERSION = "1.0"
# Lexicographic order of the `sequence` extension must follow numeric order: fixed width, zero-padded.
SEQUENCE_DIGITS = 12
_TYPE = re.compile(r"^(?P<prefix>.+)\.(?P<event_type>[A-Za-z][A-Za-z0-9]*)\.v(?P<schema>[1-9][0-9]*)$")
_EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")
REQUIRED = ("specversion", "id", "source", "type")


class InvalidCloudEventError(EventCoreError):
    """A document that is not a CloudEvent this code can read."""


@dataclass(frozen=True, slots=True)
class CloudEventType:
    prefix: str
    event_type: str
    schema_version: int

    def __str__(self) -> str:
        return f"{self.prefix}.{self.event_type}.v{self.schema_version}"

    @classmethod
    def parse(cls, text: str) -> CloudEventType:
        match = _TYPE.match(text)
        if match is None:
            raise InvalidCloudEventError(f"type {text!r} is not '<prefix>.<EventType>.v<schema version>'")
        return cls(match["prefix"], match["event_type"], int(match["schema"]))


def commit_to_cloudevents(commit: Commit, *, source: str, type_prefix: str) -> list[dict[str, Any]]:
    """One CloudEvent per event of the commit, in version order."""
    subject = aggregate_id(commit.stream_id)
    documents = []
    for offset, recorded in enumerate(commit.events):
        document: dict[str, Any] = {
            "specversion": SPEC_VERSION,
            "id": recorded.event_id,
            "source": source,
            "type": str(CloudEventType(type_prefix, recorded.event_type, recorded.schema_version)),
            "subject": subject,
            "time": recorded.recorded_at,
            "datacontenttype": "application/json",
            "data": recorded.payload(),
            # Extensions (CloudEvents Sequence and Partitioning extensions, plus tracing ids).
            "sequence": str(commit.version + offset).zfill(SEQUENCE_DIGITS),
            "partitionkey": subject,
        }
        if commit.correlation_id:
            document["correlationid"] = commit.correlation_id
        if commit.causation_id:
            document["causationid"] = commit.causation_id
        documents.append(document)
    return documents


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def parse_cloudevent(document: Any) -> dict[str, Any]:
    """Check the attributes a consumer relies on; return the document unchanged. The one CloudEvents parser:
    consumers read a record through `eventcore.messaging.inbound.read_published_event`, which calls it."""
    if not isinstance(document, dict):
        raise InvalidCloudEventError("a CloudEvent must be a JSON object")
    for name in REQUIRED:
        if not isinstance(document.get(name), str) or not document[name]:
            raise InvalidCloudEventError(f"attribute {name!r} must be a non-empty string")
    if document["specversion"] != SPEC_VERSION:
        raise InvalidCloudEventError(f"specversion {document['specversion']!r} is not {SPEC_VERSION}")
    for name in document:
        if name not in ("data", "data_base64") and not _EXTENSION_NAME.match(name):
            raise InvalidCloudEventError(f"attribute name {name!r} is not lower-case alphanumeric")
    return document
