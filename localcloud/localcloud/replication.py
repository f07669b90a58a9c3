"""Global tables and replica keys across the regions of one moto server: what a template gets on AWS from
DynamoDB global tables with multi-Region strong consistency (MRSC) and from KMS multi-Region keys, when the
same template runs in several regions of one local cloud (`regions.py`).

- `AWS::DynamoDB::GlobalTable`: moto's CloudFormation cannot create one, so moto gets it as an
  `AWS::DynamoDB::Table` (the same keys, indexes, stream and TTL; the replicas' own settings, the witness and
  the throughput settings dropped). Once the stack exists, that one table is registered in the DynamoDB
  backend of every other region its `Replicas` name: one item store, one order of writes, one stream. That is
  MRSC as the application sees it: a conditional write is checked against the item every region sees (two
  regions writing one key: one fails its condition), a strongly consistent read in any region sees the last
  acknowledged write, and every replica's stream holds the same records. Not emulated: the cross-region
  latency of each write, `ReplicatedWriteConflictException` (moto serialises requests: a conflict is a
  failed condition), and an eventually consistent global table's replication lag (it behaves as MRSC). A
  replica's `DescribeTable` shows the table's first region in its ARNs; stream requests find the table by
  name, so a stream ARN naming the replica's region works.
- `AWS::KMS::ReplicaKey`: made with KMS's ReplicateKey from its `PrimaryKeyArn`, which must be a key of this
  moto server (the primary region's cloud started first); moto copies the key, material included, so what one
  region encrypts the other decrypts. Its `Ref` is the key id (the same in both regions), `Arn` the replica's.
- A region cut (`unregister_region`): the global tables are no longer reachable there; the other regions keep
  every acknowledged write, as MRSC's other replicas (or witness) do.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

from moto.dynamodb.models import dynamodb_backends
from moto.kms.models import kms_backends

from localcloud.template import ACCOUNT_ID, TemplateError

if TYPE_CHECKING:
    from localcloud.stack import Stack

__all__ = [
    "GLOBAL_TABLE",
    "REPLICA_KEY",
    "as_regional_table",
    "register_replicas",
    "replicate_keys",
    "unregister_region",
]

GLOBAL_TABLE = "AWS::DynamoDB::GlobalTable"
REPLICA_KEY = "AWS::KMS::ReplicaKey"

# What a global table and a table share: the rest (Replicas, GlobalTableWitnesses, MultiRegionConsistency,
# the write capacity settings) has no equivalent on one table, and capacity is not emulated.
TABLE_PROPERTIES = (
    "TableName",
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "StreamSpecification",
    "TimeToLiveSpecification",
)
INDEX_PROPERTIES = ("IndexName", "KeySchema", "Projection")


def as_regional_table(resource: dict[str, Any]) -> dict[str, Any]:
    """A global table as the table moto's CloudFormation creates in the stack's region (on demand)."""
    properties = resource.get("Properties", {})
    table = {key: copy.deepcopy(properties[key]) for key in TABLE_PROPERTIES if key in properties}
    table["BillingMode"] = "PAY_PER_REQUEST"
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if kind in table:
            table[kind] = [{k: v for k, v in index.items() if k in INDEX_PROPERTIES} for index in table[kind]]
    regional = {key: value for key, value in resource.items() if key != "Properties"}
    return {**regional, "Type": "AWS::DynamoDB::Table", "Properties": table}


def register_replicas(stack: Stack) -> dict[str, list[str]]:
    """Once the stack exists: its `MultiRegion` keys made multi-Region primary keys (moto's CloudFormation
    ignores the property), and each of its global tables registered in its replica regions' backends:
    {table: [regions]}."""
    keys = kms_backends[ACCOUNT_ID][stack.region]
    for logical_id in stack.of_type("AWS::KMS::Key"):
        key = keys.keys.get(stack.physical_ids.get(logical_id, ""))
        if key is not None and isinstance(key.policy, dict):
            key.policy = json.dumps(key.policy)  # moto's CloudFormation keeps it as given; its KMS reads JSON
        if (
            key is not None
            and stack.properties(logical_id).get("MultiRegion") in (True, "true")
            and not key.multi_region
        ):
            key.multi_region = True
            key.multi_region_configuration = {
                "MultiRegionKeyType": "PRIMARY",
                "PrimaryKey": {"Arn": key.arn, "Region": stack.region},
                "ReplicaKeys": [],
            }
    home = dynamodb_backends[ACCOUNT_ID][stack.region]
    registered: dict[str, list[str]] = {}
    for logical_id in stack.of_type(GLOBAL_TABLE):
        name = stack.physical_ids[logical_id]
        table = home.tables[name]
        regions = [
            str(replica["Region"])
            for replica in stack.properties(logical_id).get("Replicas", [])
            if replica.get("Region") and replica["Region"] != stack.region
        ]
        for region in regions:
            backend = dynamodb_backends[ACCOUNT_ID][region]
            found = backend.tables.get(name)
            if found is not None and found is not table:
                raise TemplateError(
                    f"{logical_id}: region {region} already has a table named {name} that is not its replica"
                )
            backend.tables[name] = table
        registered[name] = regions
    return registered


def replicate_keys(stack: Stack) -> dict[str, dict[str, str]]:
    """Make each of the stack's replica keys from its primary key (in moto's process, under its lock):
    {logical id: {"Ref": key id, "Arn": replica ARN}}."""
    made: dict[str, dict[str, str]] = {}
    for logical_id in stack.of_type(REPLICA_KEY):
        properties = stack.properties(logical_id)
        primary_arn = str(properties.get("PrimaryKeyArn", ""))
        parts = primary_arn.split(":")
        if len(parts) < 6 or parts[2] != "kms":
            raise TemplateError(f"{logical_id}: PrimaryKeyArn {primary_arn!r} is not a KMS key ARN")
        primary = kms_backends[ACCOUNT_ID][parts[3]]
        key_id = parts[5].removeprefix("key/")
        if key_id not in primary.keys:
            raise TemplateError(
                f"{logical_id}: the primary key {primary_arn} is not in this local cloud "
                "(start its region first)"
            )
        replica = kms_backends[ACCOUNT_ID][stack.region].keys.get(key_id)
        if replica is None:
            replica = primary.replicate_key(key_id, stack.region)
            # moto's copy shares the primary's configuration, which its DescribeKey then marks REPLICA.
            replica.multi_region_configuration = {
                **copy.deepcopy(primary.keys[key_id].multi_region_configuration),
                "MultiRegionKeyType": "REPLICA",
            }
        if "Description" in properties:
            replica.description = properties["Description"]
        if "KeyPolicy" in properties:
            policy = properties["KeyPolicy"]
            replica.policy = policy if isinstance(policy, str) else json.dumps(policy)
        made[logical_id] = {"Ref": key_id, "Arn": replica.arn}
    return made


def unregister_region(region: str) -> list[str]:
    """A region cut: the global tables another region also holds are no longer reachable in `region`. The
    names of the tables taken out."""
    backend = dynamodb_backends[ACCOUNT_ID][region]
    others = [
        other
        for name, other in dynamodb_backends[ACCOUNT_ID].items()
        if name != region and other is not backend
    ]
    shared = [
        name
        for name, table in backend.tables.items()
        if any(other.tables.get(name) is table for other in others)
    ]
    for name in shared:
        del backend.tables[name]
    return shared
