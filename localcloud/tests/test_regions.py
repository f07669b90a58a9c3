"""One template in two regions (regions.py, replication.py): a global table shared with MRSC's semantics (a
conditional write checked against both regions, the same stream records in both), a multi-Region key whose
replica opens what the primary sealed, regional tables and queues of each region's own, and a cut that takes
one region's gateway, functions and queue contents while the other keeps every acknowledged write."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from localcloud import LocalCloud, Regions
from support import wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator

TEMPLATE = Path(__file__).parent / "samples" / "regions" / "template.yaml"
PRIMARY, STANDBY = "eu-west-1", "eu-central-1"


def overrides(region: str, regions: Regions) -> dict[str, str]:
    """The primary replicates to the standby; the standby is given the primary's stream and key (in its own
    region's ARNs), as an operator would read them from the primary's stack."""
    if region == PRIMARY:
        return {"Replication": "primary", "ReplicaRegion": STANDBY}
    outputs = regions[PRIMARY].stack.outputs()
    return {
        "Replication": "standby",
        "ReplicaRegion": PRIMARY,
        "ReplicatedStreamArn": outputs["ItemsStreamArn"].replace(f":{PRIMARY}:", f":{STANDBY}:"),
        "PrimaryKeyArn": outputs["ItemsKeyArn"],
    }


@pytest.fixture(scope="module")
def regions() -> Iterator[Regions]:
    output = io.StringIO()
    with Regions(TEMPLATE, [PRIMARY, STANDBY], overrides=overrides, moto_port=0, output=output) as pair:
        yield pair


def depth(cloud: LocalCloud, queue: str) -> int:
    attributes = cloud.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])[
        "Attributes"
    ]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def seen(regions: Regions, region: str) -> list[tuple[str, str, str]]:
    table = regions[region].physical_id("SeenTable")
    items = regions[region].client("dynamodb").scan(TableName=table)["Items"]
    return sorted((i["pk"]["S"], i["item"]["S"], i["event"]["S"]) for i in items)


def test_a_conditional_write_is_checked_against_both_regions(regions: Regions) -> None:
    primary, standby = regions[PRIMARY].gateway_url, regions[STANDBY].gateway_url
    assert requests.put(f"{primary}/items/a", data="alpha", timeout=30).status_code == 201
    assert requests.put(f"{standby}/items/a", data="again", timeout=30).status_code == 409
    assert requests.put(f"{standby}/items/b", data="beta", timeout=30).status_code == 201
    assert requests.put(f"{primary}/items/b", data="again", timeout=30).status_code == 409
    # A strongly consistent read in either region sees either region's write; the replica key opens what
    # the primary's key sealed, and the other way round.
    for gateway in (primary, standby):
        assert requests.get(f"{gateway}/items/a", timeout=30).json()["secret"] == "alpha"
        assert requests.get(f"{gateway}/items/b", timeout=30).json()["secret"] == "beta"


def test_both_regions_streams_hold_the_same_records(regions: Regions) -> None:
    for name in ("c", "d", "e"):
        requests.put(f"{regions[PRIMARY].gateway_url}/items/{name}", data=name, timeout=30)
    expected = wait_until(lambda: len(seen(regions, PRIMARY)) >= 5 and seen(regions, PRIMARY), timeout=30)
    assert wait_until(lambda: seen(regions, STANDBY) == expected or None, timeout=30)
    assert {item for _, item, _ in expected} >= {"a", "b", "c", "d", "e"}


def test_the_regional_resources_are_each_regions_own(regions: Regions) -> None:
    assert regions[PRIMARY].physical_id("Work") != regions[STANDBY].physical_id("Work")
    primary_tables = set(regions[PRIMARY].client("dynamodb").list_tables()["TableNames"])
    standby_tables = set(regions[STANDBY].client("dynamodb").list_tables()["TableNames"])
    assert primary_tables & standby_tables == {"sample-items"}
    key = regions[STANDBY].client("kms").describe_key(KeyId="alias/sample-items")["KeyMetadata"]
    assert key["Arn"].split(":")[3] == STANDBY
    assert key["KeyId"] == regions[PRIMARY].stack.outputs()["KeyId"]


def test_a_cut_region_is_gone_and_the_other_keeps_every_acknowledged_write(regions: Regions) -> None:
    primary = regions[PRIMARY]
    gateway = primary.gateway_url
    assert requests.put(f"{gateway}/items/last", data="omega", timeout=30).status_code == 201
    queue = primary.physical_id("Work")
    assert depth(primary, queue) > 0
    control = f"{regions[STANDBY].gateway_url}/_localcloud/api/regions"
    assert requests.post(f"{control}/{PRIMARY}/cut", timeout=30).status_code == 202

    def states() -> dict[str, str]:
        return {r["region"]: r["state"] for r in requests.get(control, timeout=30).json()["regions"]}

    wait_until(lambda: states()[PRIMARY] == "cut", timeout=60)
    assert states()[STANDBY] == "ready"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{gateway}/items/last", timeout=5)
    assert depth(primary, queue) == 0
    with pytest.raises(primary.client("dynamodb").exceptions.ResourceNotFoundException):
        primary.client("dynamodb").describe_table(TableName="sample-items")
    standby = regions[STANDBY].gateway_url
    assert requests.get(f"{standby}/items/last", timeout=30).json() == {
        "id": "last",
        "secret": "omega",
        "region": STANDBY,
    }
    assert requests.put(f"{standby}/items/after", data="x", timeout=30).status_code == 201
