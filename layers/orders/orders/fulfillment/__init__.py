"""The order-fulfillment process manager, in one package: what it hears (`inbound`), what it records
(`events`), how it decides (`process`), what it sends (`outbound`), and the service that runs it
(`service`). One process per order, event-sourced in the orders log (`Fulfillment-<order id>`).

Its streams are its working memory, never a published fact: the orders log's publisher publishes only
the aggregates `orders.published.PUBLISHED_AGGREGATES` names, and this one is not among them."""

from orders.fulfillment.process import AGGREGATE, Fulfillment, FulfillmentNotStartedError, decider

__all__ = ["AGGREGATE", "Fulfillment", "FulfillmentNotStartedError", "decider"]
