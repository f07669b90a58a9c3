-- Which SKUs ran out, and how many orders that cost.
-- Per SKU: the reservations inventory refused (StockReservationRefused), the orders they concerned, how many
-- of those orders were cancelled out of stock, and the revenue those cancelled orders would have brought
-- (their totals, minor units, per currency). Each event id counted once.
WITH refused AS (
    SELECT
        arbitrary(subject) AS sku,
        json_extract_scalar(arbitrary(data), '$.order_id') AS order_id
    FROM events
    WHERE context = 'inventory' AND fact = 'StockReservationRefused'
    GROUP BY id
),
lost AS (
    SELECT DISTINCT subject AS order_id
    FROM events
    WHERE context = 'orders' AND fact = 'OrderCancelled'
      AND json_extract_scalar(data, '$.reason') = 'out_of_stock'
),
totals AS (
    SELECT
        arbitrary(subject) AS order_id,
        json_extract_scalar(arbitrary(data), '$.currency') AS currency,
        CAST(json_extract_scalar(arbitrary(data), '$.total') AS bigint) AS total
    FROM events
    WHERE context = 'orders' AND fact = 'OrderCreated'
    GROUP BY id
)
SELECT
    r.sku,
    count(*) AS refusals,
    count(DISTINCT r.order_id) AS orders_refused,
    count(DISTINCT l.order_id) AS orders_lost,
    t.currency,
    coalesce(sum(CASE WHEN l.order_id IS NOT NULL THEN t.total END), 0) AS revenue_lost
FROM refused r
LEFT JOIN lost l ON l.order_id = r.order_id
LEFT JOIN totals t ON t.order_id = r.order_id
GROUP BY r.sku, t.currency
ORDER BY orders_lost DESC, r.sku
