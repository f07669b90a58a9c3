"""The local cloud in two regions (docs/failover.md, "Two regions on one machine"): template.yaml as a
primary (`Replication=primary`, its global tables replicated to the standby's region, a witness in a third)
and as its standby (`Replication=standby`, given what `ops.failover.standby_parameters` reads from the
primary, as an operator deploying a pair does), each region with its own gateway, functions, queues, streams
and views, on one moto server (localcloud's `Regions`).

`make run-regions` runs them (`python -m ops regions run`); `python -m ops regions cut REGION` is an outage;
`python -m ops failover --to REGION` promotes, as against a deployed pair. Both regions trust one token
issuer (a pair trusts one identity provider: `JwtIssuer`), so one token works in either."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from ops.failover import standby_parameters
from ops.target import LOCAL_ENDPOINT, LOCAL_GATEWAY, local_target
from ops.template import TEMPLATE

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from localcloud import Regions

PRIMARY, STANDBY, WITNESS = "eu-west-1", "eu-central-1", "eu-west-2"  # one region set (EU)
STANDBY_GATEWAY = "http://127.0.0.1:3001"
PAIR_ISSUER = {"JwtIssuer": "https://issuer.localcloud.test/pair", "JwtAudience": "orders-pair"}


def pair_overrides(
    template: Path = TEMPLATE,
    common: dict[str, str] | None = None,
    primary: str = PRIMARY,
    standby: str = STANDBY,
    witness: str = WITNESS,
) -> Callable[[str, Regions], dict[str, str]]:
    """Each region's parameter overrides, for localcloud's `Regions` (the primary starts first)."""
    shared = {**PAIR_ISSUER, **(common or {})}

    def overrides(region: str, regions: Regions) -> dict[str, str]:
        if region == primary:
            return {**shared, "Replication": "primary", "ReplicaRegion": standby, "WitnessRegion": witness}
        target = local_target(regions.endpoint_url, template, regions[primary].gateway_url)
        return {**shared, **standby_parameters(target, region)}

    return overrides


def start_pair(
    template: Path = TEMPLATE,
    *,
    ports: tuple[int, int] = (3000, 3001),
    moto_port: int = 4566,
    common: dict[str, str] | None = None,
    **options: Any,
) -> Regions:
    """The pair, started: the primary promoted (the active-region record names it)."""
    from eventcore.regions import ActiveRegionTable
    from localcloud import Regions

    regions = Regions(
        template,
        [PRIMARY, STANDBY],
        overrides=pair_overrides(template, common),
        ports=ports,
        moto_port=moto_port,
        **options,
    )
    regions.start()
    try:
        primary = regions[PRIMARY]
        table = ActiveRegionTable(primary.stack.outputs()["ActiveRegionTable"], primary.client("dynamodb"))
        table.promote(PRIMARY, seen=table.read())
    except BaseException:
        regions.stop()
        raise
    return regions


TOKEN_COMMAND = "python -m localcloud token --customer alice --parameter-overrides " + " ".join(
    f"{name}={value}" for name, value in PAIR_ISSUER.items()
)


def run(template: Path = TEMPLATE) -> int:
    """`make run-regions`: the pair in the foreground until Ctrl-C. Nothing is kept (each run starts empty)
    but the signing key in `.localcloud/`, which `python -m localcloud token` signs with too."""
    from localcloud.state import StateFolder
    from localcloud.tokens import SigningKey

    folder = StateFolder(template.parent / ".localcloud")
    folder.prepare(fresh=False)
    regions = start_pair(template, signing_key=SigningKey.load_or_create(folder.signing_key_file))
    try:
        for region in regions.names:
            print(regions[region].banner().replace("localcloud:", f"localcloud [{region}]:", 1))
        print(
            f"\nregions: {PRIMARY} active (gateway {LOCAL_GATEWAY}), {STANDBY} standby ({STANDBY_GATEWAY}), "
            f"moto {LOCAL_ENDPOINT}\n  a token for both: {TOKEN_COMMAND}\n"
            f"  an outage: python -m ops regions cut {PRIMARY}\n"
            f"  promote: python -m ops failover --to {STANDBY}",
            flush=True,
        )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("localcloud: stopping both regions", file=sys.stderr)
    finally:
        regions.stop()
    return 0
