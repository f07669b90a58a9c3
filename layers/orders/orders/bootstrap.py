"""The orders context's composition root: its services built from a function's environment, once per
container. Every orders function asks here for what it uses (`service = OrdersWiring().order_service()` at
import), so nothing is wired twice and a handler only routes."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from eventcore.lambdas.wiring import Wiring
from eventcore.messaging.command_sender import SqsCommandSender
from eventcore.read.counters import IdempotentCounters
from eventcore.regions import SentOnlyWhenActive
from orders.config import load_pricing_config
from orders.fulfillment import decider as fulfillment_decider
from orders.fulfillment.outbound import DEADLINES, INVENTORY, ORDERS, PAYMENTS, SHIPPING
from orders.fulfillment.process import AUTHORISATION_HOLD
from orders.fulfillment.service import FulfillmentService
from orders.order import order_decider
from orders.privacy import PrivacyService, customer_decider
from orders.queries import OrderQueries
from orders.read_model import order_projection
from orders.service import OrderService, ReturnPolicy

if TYPE_CHECKING:
    from eventcore.read.generations.projector import GenerationalProjector


class OrdersWiring(Wiring):
    def order_service(self) -> OrderService:
        """Places, cancels and applies queued commands to orders; seals personal data where the function
        has the vault (PERSONAL_DATA_KEYS_TABLE), as the orders API does."""
        return OrderService(
            self.runner(order_decider),
            load_pricing_config,
            vault=self.vault if self.has_vault else None,
            returns=ReturnPolicy.from_environment(self.env),
        )

    def order_queries(self) -> OrderQueries:
        """A customer's orders (the read model's active generation), an order from the log, time travel."""
        return OrderQueries(
            # The active generation only, resolved through the cached registry (no request per query).
            self.view(order_projection).active_store(),
            self.event_log,
            self.runner(order_decider),
            self.vault,
        )

    def privacy_service(self) -> PrivacyService:
        return PrivacyService(self.vault, self.runner(customer_decider))

    def order_projector(self) -> GenerationalProjector:
        return self.projector(order_projection)

    def sales_counters(self) -> IdempotentCounters:
        return IdempotentCounters(self.env["ANALYTICS_TABLE"], self.dynamodb)

    def fulfillment_service(self) -> FulfillmentService:
        """The process manager: its deadline (FULFILLMENT_DEADLINE_SECONDS), how long the provider holds an
        authorisation (AUTHORISATION_HOLD_SECONDS, 7 days by default), the queues it sends to
        (`<QUEUE>_COMMANDS_QUEUE_URL`, FULFILLMENT_DEADLINES_QUEUE_URL) and the CloudEvents source of each
        context it hears (`<CONTEXT>_EVENT_SOURCE`)."""
        env = self.env
        deadline = timedelta(seconds=int(env["FULFILLMENT_DEADLINE_SECONDS"]))
        hold = timedelta(
            seconds=int(env.get("AUTHORISATION_HOLD_SECONDS") or AUTHORISATION_HOLD.total_seconds())
        )
        return FulfillmentService(
            self.runner(fulfillment_decider(deadline, hold)),
            # In the standby region it records what it hears but sends nothing (docs/failover.md)
            SentOnlyWhenActive(
                SqsCommandSender(
                    self.sqs,
                    {
                        ORDERS: env["ORDER_COMMANDS_QUEUE_URL"],
                        PAYMENTS: env["PAYMENT_COMMANDS_QUEUE_URL"],
                        INVENTORY: env["INVENTORY_COMMANDS_QUEUE_URL"],
                        SHIPPING: env["SHIPPING_COMMANDS_QUEUE_URL"],
                        DEADLINES: env["FULFILLMENT_DEADLINES_QUEUE_URL"],
                    },
                )
            ),
            sources={
                env["ORDERS_EVENT_SOURCE"]: "orders",
                env["PAYMENTS_EVENT_SOURCE"]: "payments",
                env["INVENTORY_EVENT_SOURCE"]: "inventory",
                env["SHIPPING_EVENT_SOURCE"]: "shipping",
            },
        )
