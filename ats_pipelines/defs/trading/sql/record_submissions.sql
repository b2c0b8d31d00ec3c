-- The orders are about to be sent to the broker (written in the transaction that records them, before any
-- request leaves): after a crash, a pending order without this row was never sent; one with it may have been.
-- A re-send (after a lost answer) counts another attempt.
INSERT INTO order_submissions (order_id, sent_at)
SELECT unnest(%(order_ids)s::uuid[]), now()
ON CONFLICT (order_id) DO UPDATE SET attempts = order_submissions.attempts + 1
