"""What of the orders log leaves the context: the Order's facts, on `order-events`. The log also holds the
fulfillment process's streams (`Fulfillment-*`, its working memory, `orders.fulfillment`) and the
customers' erasure records (`Customer-*`, `orders.privacy`); both stay inside the context. The orders
log's publisher is told so (OrderPublisherFunction's PUBLISHED_AGGREGATES), and its event source mapping's
filter cuts their records before an invocation; a template test holds both to this set."""

from orders.order import order_decider

PUBLISHED_AGGREGATES = frozenset({order_decider.aggregate})
