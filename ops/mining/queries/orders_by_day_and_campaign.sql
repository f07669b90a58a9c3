-- Orders and revenue per day and campaign, net of cancellations and refunds.
-- Per day the order was placed (UTC), campaign code ('none' without one) and currency: orders placed,
-- revenue (what customers pay, shipping included), discounts given, then how many of those orders were
-- cancelled since, what their returns refunded since (ReturnRefunded, counted on the order's day and
-- campaign) and what is left of the revenue. Amounts in minor units. Each event id counted once.
WITH created AS (
    SELECT id, arbitrary(subject) AS order_id, arbitrary(data) AS data
    FROM events
    WHERE context = 'orders' AND fact = 'OrderCreated'
    GROUP BY id
),
cancelled AS (
    SELECT DISTINCT subject AS order_id
    FROM events
    WHERE context = 'orders' AND fact = 'OrderCancelled'
),
refund_events AS (
    SELECT id, arbitrary(subject) AS order_id, arbitrary(data) AS data
    FROM events
    WHERE context = 'orders' AND fact = 'ReturnRefunded'
    GROUP BY id
),
refunds AS (
    SELECT order_id, sum(CAST(json_extract_scalar(data, '$.amount') AS bigint)) AS refunded
    FROM refund_events
    GROUP BY order_id
),
placed AS (
    SELECT
        order_id,
        substr(json_extract_scalar(data, '$.placed_at'), 1, 10) AS day,
        coalesce(json_extract_scalar(data, '$.campaign_code'), 'none') AS campaign,
        json_extract_scalar(data, '$.currency') AS currency,
        CAST(json_extract_scalar(data, '$.total') AS bigint) AS revenue,
        CAST(json_extract_scalar(data, '$.discount') AS bigint) AS discount
    FROM created
)
SELECT
    p.day,
    p.campaign,
    p.currency,
    count(*) AS orders,
    sum(p.revenue) AS revenue,
    sum(p.discount) AS discounts,
    count(c.order_id) AS cancelled_orders,
    count(*) - count(c.order_id) AS net_orders,
    sum(coalesce(r.refunded, 0)) AS refunds,
    sum(CASE WHEN c.order_id IS NULL THEN p.revenue ELSE 0 END) - sum(coalesce(r.refunded, 0)) AS net_revenue
FROM placed p
LEFT JOIN cancelled c ON c.order_id = p.order_id
LEFT JOIN refunds r ON r.order_id = p.order_id
GROUP BY p.day, p.campaign, p.currency
ORDER BY p.day, p.campaign, p.currency
