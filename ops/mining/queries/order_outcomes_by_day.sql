-- The share of orders confirmed, cancelled by reason, and timed out.
-- Per day the order was placed (UTC): how its orders ended up so far: 'confirmed' (confirmed and not
-- cancelled since, shipped and delivered included), 'cancelled: <reason>', or 'pending'; the orders of each
-- outcome, their share of the day's orders, and whether the outcome is a timeout (the payment or the stock
-- never answered before the deadline). Each event id counted once.
WITH facts AS (
    SELECT id, arbitrary(fact) AS fact, arbitrary(subject) AS order_id, arbitrary(data) AS data
    FROM events
    WHERE context = 'orders' AND fact IN ('OrderCreated', 'OrderConfirmed', 'OrderCancelled')
    GROUP BY id
),
orders AS (
    SELECT
        order_id,
        max(CASE WHEN fact = 'OrderCreated' THEN substr(json_extract_scalar(data, '$.placed_at'), 1, 10) END) AS day,
        max(CASE WHEN fact = 'OrderConfirmed' THEN 1 ELSE 0 END) AS confirmed,
        max(CASE WHEN fact = 'OrderCancelled' THEN json_extract_scalar(data, '$.reason') END) AS reason
    FROM facts
    GROUP BY order_id
),
outcomes AS (
    SELECT
        day,
        CASE
            WHEN reason IS NOT NULL THEN 'cancelled: ' || reason
            WHEN confirmed = 1 THEN 'confirmed'
            ELSE 'pending'
        END AS outcome,
        reason IN ('payment_timeout', 'stock_timeout') AS timed_out
    FROM orders
    WHERE day IS NOT NULL
)
SELECT
    day,
    outcome,
    count(*) AS orders,
    round(CAST(count(*) AS double) / sum(count(*)) OVER (PARTITION BY day), 4) AS share,
    coalesce(arbitrary(timed_out), false) AS timed_out
FROM outcomes
GROUP BY day, outcome
ORDER BY day, outcome
