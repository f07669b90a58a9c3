"""State that survives a restart, on the sample template: tables and streams with each trigger's position,
queues and parameters are saved in the state folder on stop and resumed on the next start; `fresh` starts
empty. Every kind of resource, records pending at the stop and a save cut short: test_state_resources.py."""

from __future__ import annotations

import io
import json
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from localcloud import LocalCloud
from localcloud.state import StateError, StateFolder, write_atomically
from support import SAMPLE, wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

TEMPLATE = SAMPLE / "template.yaml"


def start(state: Path, fresh: bool = False) -> LocalCloud:
    # No prewarm: only the two consumers the test feeds need a worker, and they get one on demand.
    cloud = LocalCloud(
        TEMPLATE, port=0, moto_port=0, output=io.StringIO(), state_dir=state, fresh=fresh, prewarm=False
    )
    cloud.start()
    return cloud


def delivered(cloud: LocalCloud, function: str, run: str) -> list[str]:
    """Every id `function` was handed that belongs to this run, as often as it was handed."""
    items = cloud.client("dynamodb").scan(TableName=cloud.physical_id("SeenTable"))["Items"]
    return sorted(
        value["S"]
        for item in items
        if item["fn"]["S"] == function
        for value in item["ids"]["L"]
        if value["S"].startswith(run)
    )


def put_item(cloud: LocalCloud, item_id: str) -> None:
    image: dict[str, Any] = {"pk": {"S": item_id}, "sk": {"N": "1"}, "id": {"S": item_id}, "kind": {"S": "k"}}
    cloud.client("dynamodb").put_item(TableName=cloud.physical_id("EventsTable"), Item=image)


def put_record(cloud: LocalCloud, record_id: str) -> None:
    data = json.dumps({"id": record_id, "kind": "keep", "size": 1}).encode()
    cloud.client("kinesis").put_record(
        StreamName=cloud.physical_id("SampleStream"), Data=data, PartitionKey="p"
    )


def test_a_restart_resumes_the_data_and_every_trigger_where_it_stopped(tmp_path: Path) -> None:
    run = f"r-{uuid.uuid4().hex[:8]}"
    # GIVEN a cloud that delivered a table record and a stream record, and holds a parameter and a message
    cloud = start(tmp_path)
    try:
        put_item(cloud, f"{run}-before")
        put_record(cloud, f"{run}-k-before")
        cloud.client("ssm").put_parameter(Name=f"/{run}", Value="kept", Type="String")
        cloud.client("sqs").send_message(QueueUrl=cloud.physical_id("FailureQueue"), MessageBody=run)
        wait_until(lambda: delivered(cloud, "TableConsumerFunction", run), timeout=60)
        wait_until(lambda: delivered(cloud, "StreamConsumerFunction", run), timeout=60)
    finally:
        cloud.stop()
    # WHEN it starts again on the same state folder and more records arrive
    cloud = start(tmp_path)
    try:
        put_item(cloud, f"{run}-after")
        put_record(cloud, f"{run}-k-after")
        wait_until(lambda: len(delivered(cloud, "TableConsumerFunction", run)) >= 2, timeout=60)
        wait_until(lambda: len(delivered(cloud, "StreamConsumerFunction", run)) >= 2, timeout=60)
        cloud.wait_until_idle()
        # THEN everything is there, and each trigger delivered each record exactly once
        assert delivered(cloud, "TableConsumerFunction", run) == [f"{run}-after", f"{run}-before"]
        assert delivered(cloud, "StreamConsumerFunction", run) == [f"{run}-k-after", f"{run}-k-before"]
        assert cloud.client("ssm").get_parameter(Name=f"/{run}")["Parameter"]["Value"] == "kept"
        message = cloud.client("sqs").receive_message(QueueUrl=cloud.physical_id("FailureQueue"))["Messages"]
        assert [m["Body"] for m in message] == [run]
    finally:
        cloud.stop()


def test_a_fresh_start_forgets_the_saved_state_but_keeps_the_signing_key(tmp_path: Path) -> None:
    state = StateFolder(tmp_path)
    state.prepare(fresh=False)
    for file in (state.state_file, *state.legacy_files, state.signing_key_file):
        file.write_text("saved")
    state.prepare(fresh=True)
    assert not state.has_state
    assert not any(file.exists() for file in state.legacy_files)
    assert state.signing_key_file.read_text() == "saved"  # tokens minted before stay valid
    assert (tmp_path / ".gitignore").read_text() == "*\n"


def test_a_state_of_the_earlier_version_is_refused_with_a_hint_to_start_fresh(tmp_path: Path) -> None:
    state = StateFolder(tmp_path)
    state.prepare(fresh=False)
    state.legacy_files[0].write_bytes(b"version 1")
    assert state.has_state
    with pytest.raises(StateError, match="earlier version"):
        state.restore("eu-west-1")


class TestWriteAtomically:
    def test_a_write_cut_short_leaves_the_previous_file_and_no_temporary_one(self, tmp_path: Path) -> None:
        target = tmp_path / "state.pickle"
        write_atomically(target, [b"previous ", b"state"])

        def cut_short() -> Iterator[bytes]:
            yield b"half of the new"
            raise OSError("No space left on device")

        with pytest.raises(OSError, match="No space left"):
            write_atomically(target, cut_short())
        assert target.read_bytes() == b"previous state"
        assert [path.name for path in tmp_path.iterdir()] == ["state.pickle"]
