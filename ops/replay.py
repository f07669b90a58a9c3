"""`python -m ops.replay`: the low-level replay of a read model from its event log into a named table, in
place (conditional writes, safe beside the projector) or into an empty one (`--fresh`), outside any
generations registry. The blue/green rebuild (`python -m ops rebuild`) is what an operator normally runs.

    python -m ops.replay --projection orders.read_model:order_projection \\
        --log-table orders-event-log --view-table orders-view [--segments 8] [--fresh]

From the archive instead of a scan of the log, for any period (the aggregates with facts archived in it;
an aggregate whose archived facts in the period do not start at its first version is caught up from the
log, so every row written is whole):

    python -m ops.replay --projection orders.read_model:order_projection --log-table orders-event-log \\
        --view-table orders-view-2026-11 --fresh --archive-bucket <bucket> --context orders \\
        --since 2026-11-01 --until 2026-11-30

Exit status 1 when any stream could not be replayed (after replaying all the others)."""

from __future__ import annotations

import argparse
import sys

import boto3

from eventcore.read.generations.archive_scan import ArchiveSource
from eventcore.read.generations.replay import RebuildReport, load_projection, rebuild
from eventcore.read.view_store import DynamoDBViewStore


def main(argv: list[str] | None = None) -> RebuildReport:
    parser = argparse.ArgumentParser(
        prog="python -m ops.replay", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--projection", required=True, help="module:attribute of the Projection")
    parser.add_argument("--log-table", required=True)
    parser.add_argument("--view-table", required=True)
    parser.add_argument("--segments", type=int, default=4, help="parallel scan segments (threads)")
    parser.add_argument("--fresh", action="store_true", help="the view table is new and empty: no conditions")
    archive = parser.add_argument_group("from the archive (S3) instead of a scan of the log")
    archive.add_argument("--archive-bucket", help="the archive bucket (template.yaml's ArchiveBucket)")
    archive.add_argument("--context", help="the view's context in the archive (events/context=...)")
    archive.add_argument("--since", help="facts of this day (YYYY-MM-DD, UTC) and later")
    archive.add_argument("--until", help="facts of this day and earlier")
    args = parser.parse_args(argv)
    if bool(args.archive_bucket) != bool(args.context):
        parser.error("--archive-bucket and --context go together")
    projection = load_projection(args.projection)
    client = boto3.client("dynamodb")
    views = DynamoDBViewStore(args.view_table, client, key_attribute=projection.key_attribute)
    source = None
    if args.archive_bucket:
        source = ArchiveSource(
            boto3.client("s3"), args.archive_bucket, args.context, since=args.since, until=args.until
        )
    return rebuild(
        projection, client, args.log_table, views, segments=args.segments, fresh=args.fresh, source=source
    )


def run(argv: list[str] | None = None) -> int:
    """The command: exit status 1 when any stream could not be rebuilt, after rebuilding all the others."""
    return 1 if main(argv).failed_streams else 0


if __name__ == "__main__":
    sys.exit(run())
