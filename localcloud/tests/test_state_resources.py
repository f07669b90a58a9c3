"""Everything a template creates survives a restart (samples/state: a table with a stream, a Kinesis stream, a
queue, a parameter, a KMS key, a bucket), and what was pending survives too: stream records written before
the stop and not yet delivered are delivered after the restart, once; messages in flight come back after
their visibility timeout. A save cut short leaves the previous state whole."""

from __future__ import annotations

import builtins
import io
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from localcloud import LocalCloud
from localcloud.state import StateError
from support import wait_until

TEMPLATE = Path(__file__).parent / "samples" / "state" / "template.yaml"


def start(state: Path, gate: Path, run: str, pollers: bool = True) -> LocalCloud:
    cloud = LocalCloud(
        TEMPLATE,
        port=0,
        moto_port=0,
        output=io.StringIO(),
        state_dir=state,
        gateway=False,
        pollers=pollers,
        prewarm=False,
        parameter_overrides={"GateFolder": str(gate), "Run": run},
    )
    cloud.start()
    return cloud


def deliveries(cloud: LocalCloud) -> list[tuple[str, str, str]]:
    """(function, record id, run) for every record a consumer was handed, as often as it was handed."""
    items = cloud.client("dynamodb").scan(TableName=cloud.physical_id("SeenTable"))["Items"]
    return sorted((item["fn"]["S"], item["id"]["S"], item["run"]["S"]) for item in items)


def write(cloud: LocalCloud, record_id: str, hold: bool = False) -> None:
    """The same record on both streams: an item in the table, a record in the Kinesis stream."""
    item: dict[str, Any] = {"id": {"S": record_id}}
    if hold:
        item["hold"] = {"BOOL": True}
    cloud.client("dynamodb").put_item(TableName=cloud.physical_id("Ledger"), Item=item)
    data = json.dumps({"id": record_id, "hold": hold}).encode()
    cloud.client("kinesis").put_record(StreamName=cloud.physical_id("Feed"), Data=data, PartitionKey="p")


def both(record_id: str, run: str) -> list[tuple[str, str, str]]:
    return [("FeedConsumer", record_id, run), ("LedgerConsumer", record_id, run)]


def stop_while_consumers_are_held(cloud: LocalCloud, hold: Path) -> None:
    """Stop the cloud while both consumers are in the middle of a batch; let them finish once the stop has
    begun, so that the stop finds the records behind that batch undelivered."""
    pollers = list(cloud.pollers)
    stopping = threading.Thread(target=cloud.stop)
    stopping.start()
    wait_until(lambda: all(poller.stopping.is_set() for poller in pollers), timeout=30)
    hold.unlink()
    stopping.join(timeout=120)
    assert not stopping.is_alive()


def test_every_resource_survives_a_restart_and_pending_records_are_delivered_once(tmp_path: Path) -> None:
    state, gate = tmp_path / "state", tmp_path / "gate"
    gate.mkdir()
    hold = gate / "hold"
    # GIVEN a cloud with data in every resource, and a record each consumer is done with
    cloud = start(state, gate, run="first")
    try:
        write(cloud, "done")
        wait_until(lambda: deliveries(cloud) == both("done", "first"), timeout=60)
        cloud.client("ssm").put_parameter(Name="/state-sample/setting", Value="changed", Overwrite=True)
        kms = cloud.client("kms")
        ciphertext = kms.encrypt(KeyId=cloud.physical_id("DataKey"), Plaintext=b"sealed")["CiphertextBlob"]
        signing_key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        signature = kms.sign(KeyId=signing_key, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
        cloud.client("s3").put_object(Bucket=cloud.physical_id("Archive"), Key="kept.txt", Body=b"archived")
        sqs, queue = cloud.client("sqs"), cloud.physical_id("Work")
        for body, visibility in (("back-soon", 1), ("back-later", 600)):  # received: in flight at the stop
            sqs.send_message(QueueUrl=queue, MessageBody=body)
            received = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=visibility)["Messages"]
            assert [message["Body"] for message in received] == [body]
        sqs.send_message(QueueUrl=queue, MessageBody="waiting")
        # ... and each consumer held in the middle of a batch, with two more records behind it
        hold.touch()
        write(cloud, "held", hold=True)
        started = sorted(both("done", "first") + both("held", "first"))
        wait_until(lambda: deliveries(cloud) == started, timeout=60)
        write(cloud, "pending-1")
        write(cloud, "pending-2")
    except BaseException:
        cloud.stop()
        raise
    # WHEN it stops then, and starts again on the same state folder
    stop_while_consumers_are_held(cloud, hold)
    cloud = start(state, gate, run="second")
    try:
        # THEN the pending records are delivered after the restart, each once, and nothing before them again
        expected = both("done", "first") + both("held", "first")
        expected += both("pending-1", "second") + both("pending-2", "second")
        wait_until(lambda: len(deliveries(cloud)) >= len(expected), timeout=60)
        cloud.wait_until_idle()
        assert deliveries(cloud) == sorted(expected)
        # ... and every resource holds what it held
        ledger = cloud.client("dynamodb").scan(TableName=cloud.physical_id("Ledger"))["Items"]
        assert sorted(item["id"]["S"] for item in ledger) == ["done", "held", "pending-1", "pending-2"]
        parameter = cloud.client("ssm").get_parameter(Name="/state-sample/setting")["Parameter"]
        assert parameter["Value"] == "changed"
        kms = cloud.client("kms")
        assert kms.decrypt(CiphertextBlob=ciphertext)["Plaintext"] == b"sealed"
        verified = kms.verify(
            KeyId=signing_key, Message=b"m", Signature=signature, SigningAlgorithm="ECDSA_SHA_256"
        )
        assert verified["SignatureValid"]
        archived = cloud.client("s3").get_object(Bucket=cloud.physical_id("Archive"), Key="kept.txt")
        assert archived["Body"].read() == b"archived"
        # ... and the messages in flight at the stop come back after their visibility timeout, not before
        sqs, queue = cloud.client("sqs"), cloud.physical_id("Work")
        counts = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]

        def queue_counts() -> tuple[int, int]:
            attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=counts)["Attributes"]
            return int(attributes[counts[0]]), int(attributes[counts[1]])

        assert wait_until(lambda: queue_counts() == (2, 1), timeout=30)
        messages = sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, MessageSystemAttributeNames=["ApproximateReceiveCount"]
        )["Messages"]
        receives = {message["Body"]: message["Attributes"]["ApproximateReceiveCount"] for message in messages}
        assert receives == {"back-soon": "2", "waiting": "1"}
    finally:
        cloud.stop()


class _FailingFile(io.RawIOBase):
    """A file that takes `room` bytes and then fails as a full disk does."""

    def __init__(self, path: Path, room: int) -> None:
        self._file = builtins.open(path, "wb")  # noqa: SIM115 - closed in close()
        self._room = room

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)[: self._room]
        self._file.write(chunk)
        self._room -= len(chunk)
        if len(chunk) < len(data):
            raise OSError(28, "No space left on device")
        return len(chunk)

    def fileno(self) -> int:
        return self._file.fileno()

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self.closed:
            super().close()  # flushes first
            self._file.close()


def open_on_a_full_disk(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
    """`open` as the state module sees it on a full disk: a file for writing fails after 4 KiB."""
    if "w" in mode:
        return _FailingFile(Path(path), room=4096)
    return builtins.open(path, mode, *args, **kwargs)


def test_a_save_cut_short_leaves_the_previous_state_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, gate = tmp_path / "state", tmp_path / "gate"
    # GIVEN a saved state
    cloud = start(state, gate, run="first", pollers=False)
    try:
        cloud.client("ssm").put_parameter(Name="/state-sample/setting", Value="saved", Overwrite=True)
        ciphertext = cloud.client("kms").encrypt(KeyId=cloud.physical_id("DataKey"), Plaintext=b"x")
    finally:
        cloud.stop()
    saved = (state / "state.pickle").read_bytes()
    # WHEN the next save fails after the temporary file is partly written (the state module's own `open`)
    cloud = start(state, gate, run="second", pollers=False)
    try:
        cloud.client("ssm").put_parameter(Name="/state-sample/setting", Value="lost", Overwrite=True)
    finally:
        monkeypatch.setattr("localcloud.state.open", open_on_a_full_disk, raising=False)
        with pytest.raises(StateError, match="No space left on device"):
            cloud.stop()
        monkeypatch.undo()
    # THEN the previous state is there, whole, with no temporary file beside it, and a start resumes it
    assert (state / "state.pickle").read_bytes() == saved
    assert sorted(path.name for path in state.iterdir()) == [
        ".gitignore",
        "functions.log",
        "signing-key.pem",
        "state.pickle",
    ]
    cloud = start(state, gate, run="third", pollers=False)
    try:
        parameter = cloud.client("ssm").get_parameter(Name="/state-sample/setting")["Parameter"]
        assert parameter["Value"] == "saved"
        assert cloud.client("kms").decrypt(CiphertextBlob=ciphertext["CiphertextBlob"])["Plaintext"] == b"x"
    finally:
        cloud.stop()
