-- Orders by their current status.
-- Every order, replayed from its archived facts: its status now (pending_payment, confirmed, shipped,
-- delivered or cancelled), counted per status: what the orders read model holds. Each event id counted once.
WITH facts AS (
    SELECT id, arbitrary(subject) AS order_id, arbitrary(fact) AS fact
    FROM events
    WHERE context = 'orders'
    GROUP BY id
),
orders AS (
    SELECT
        order_id,
        CASE
            WHEN max(CASE WHEN fact = 'OrderCancelled' THEN 1 ELSE 0 END) = 1 THEN 'cancelled'
            WHEN max(CASE WHEN fact = 'OrderDelivered' THEN 1 ELSE 0 END) = 1 THEN 'delivered'
            WHEN max(CASE WHEN fact = 'OrderShipped' THEN 1 ELSE 0 END) = 1 THEN 'shipped'
            WHEN max(CASE WHEN fact = 'OrderConfirmed' THEN 1 ELSE 0 END) = 1 THEN 'confirmed'
            ELSE 'pending_payment'
        END AS status
    FROM facts
    GROUP BY order_id
    HAVING max(CASE WHEN fact = 'OrderCreated' THEN 1 ELSE 0 END) = 1
)
SELECT status, count(*) AS orders
FROM orders
GROUP BY status
ORDER BY status
