-- The broker's view of an order: its id there, status and fills.
UPDATE orders
SET external_order_id = coalesce(%(external_order_id)s, external_order_id), status = %(status)s,
    filled_quantity = %(filled_quantity)s, filled_price = %(filled_price)s, commission = %(commission)s,
    updated_at = now()
WHERE order_id = %(order_id)s
  AND (status, filled_quantity, filled_price, external_order_id)
      IS DISTINCT FROM (%(status)s, %(filled_quantity)s::numeric, %(filled_price)s::numeric,
                        coalesce(%(external_order_id)s, external_order_id))
