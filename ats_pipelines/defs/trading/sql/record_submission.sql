-- The order is about to be sent to the broker (written right before the request): after a crash, a pending
-- order without this row was never sent. A re-send (after a lost answer) counts another attempt.
INSERT INTO order_submissions (order_id, sent_at) VALUES (%(order_id)s, now())
ON CONFLICT (order_id) DO UPDATE SET attempts = order_submissions.attempts + 1
