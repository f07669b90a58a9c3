"""What every context's composition root builds from a function's environment, written once: the AWS
clients, the context's event log, runners over it, the personal data vault, read models in generations, and
what the generic functions deployed once per log or per view use (a log's publisher, a view's generations
for its rebuilder). Each part is built on first use and kept by the instance, and a function builds its root
once, at import (once per container): a warm invocation builds nothing, and a function reads only the
settings of what it uses. A context's root (`orders.bootstrap`, `payments.bootstrap`, ...) adds its
services on top; the generic functions (`event_publisher`, `view_rebuilder`) use this one as it is."""

from __future__ import annotations

import os
from functools import cached_property
from typing import TYPE_CHECKING

import boto3

from eventcore.personal_data import PersonalDataVault
from eventcore.read.generations.projector import GenerationalProjector, GenerationalView
from eventcore.write.dynamodb_store import DynamoDBEventStore
from eventcore.write.runner import DeciderRunner

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

    from eventcore.messaging.publisher import KinesisPublisher
    from eventcore.read.generations.bluegreen import ViewGenerations
    from eventcore.read.generations.projector import ViewSettings
    from eventcore.read.projector import Projection
    from eventcore.write.decider import Decider

EVENT_LOG_TABLE = "EVENT_LOG_TABLE"


class Wiring:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.env: Mapping[str, str] = os.environ if environ is None else environ

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        return boto3.client("dynamodb")

    @cached_property
    def sqs(self) -> SQSClient:
        return boto3.client("sqs")

    @cached_property
    def kinesis(self) -> KinesisClient:
        return boto3.client("kinesis")

    @cached_property
    def ssm(self) -> SSMClient:
        return boto3.client("ssm")

    @cached_property
    def event_log(self) -> DynamoDBEventStore:
        """The context's event log, EVENT_LOG_TABLE."""
        return DynamoDBEventStore(self.env[EVENT_LOG_TABLE], self.dynamodb)

    @cached_property
    def vault(self) -> PersonalDataVault:
        """The personal data vault (PERSONAL_DATA_KEYS_TABLE, PERSONAL_DATA_KMS_KEY), from this root's
        environment, as `has_vault` reads it."""
        return PersonalDataVault.from_environment(self.dynamodb, self.env)

    @property
    def has_vault(self) -> bool:
        return "PERSONAL_DATA_KEYS_TABLE" in self.env

    def runner[C, S](self, decider: Decider[C, S]) -> DeciderRunner[C, S]:
        """A runner over the event log: its memory image lives as long as the function's root."""
        return DeciderRunner(decider, self.event_log)

    def view(self, projection: Projection) -> GenerationalView:
        """A read model in generations, as VIEW_TABLES and VIEW_GENERATIONS name it."""
        return GenerationalView.from_environment(projection, self.dynamodb, self.env)

    def projector(self, projection: Projection) -> GenerationalProjector:
        """The projector feeding every fed generation of a read model, over the event log."""
        return GenerationalProjector.from_environment(projection, self.dynamodb, self.env)

    # -- the generic functions, deployed once per log or per view --------------------------------------------

    def publisher(self) -> KinesisPublisher:
        """A log's publisher: to EVENT_STREAM_NAME, as CloudEvents of CLOUDEVENTS_SOURCE and
        CLOUDEVENTS_TYPE_PREFIX, the aggregates PUBLISHED_AGGREGATES names (comma-separated; absent: all)."""
        from eventcore.messaging.publisher import KinesisPublisher, published_aggregates

        return KinesisPublisher(
            self.env["EVENT_STREAM_NAME"],
            self.kinesis,
            source=self.env["CLOUDEVENTS_SOURCE"],
            type_prefix=self.env["CLOUDEVENTS_TYPE_PREFIX"],
            aggregates=published_aggregates(self.env.get("PUBLISHED_AGGREGATES")),
        )

    @cached_property
    def view_settings(self) -> ViewSettings:
        """A generational view's tables, registry and cache age (VIEW_TABLES, VIEW_GENERATIONS,
        VIEW_GENERATIONS_MAX_AGE)."""
        from eventcore.read.generations.projector import ViewSettings

        return ViewSettings.from_environment(self.env)

    def view_generations(self) -> ViewGenerations:
        """The read model a rebuilder is deployed for, as a rebuild sees it: VIEW_NAME, its own projection
        VIEW_PROJECTION (`module:attribute`), replayed from EVENT_LOG_TABLE, in the view's generations."""
        from eventcore.read.generations.bluegreen import ViewGenerations
        from eventcore.read.generations.registry import SsmGenerationRegistry
        from eventcore.read.projector import load_projection

        projection = load_projection(self.env["VIEW_PROJECTION"])
        return ViewGenerations(
            name=self.env["VIEW_NAME"],
            projection=projection,
            client=self.dynamodb,
            log=self.event_log,
            stores=self.view_settings.stores(projection, self.dynamodb),
            registry=SsmGenerationRegistry(self.view_settings.registry, self.ssm),
        )
