-- ADDITION to the spec: when each order was handed to the broker. An orders row is recorded before the
-- submit; its order_submissions row is written right before the request leaves. After a crash, a pending
-- order without one was never sent (the broker cannot hold it); one with it may be at the broker, and has
-- the strategy's pending_expiry_minutes from sent_at to be found there before it is expired.
CREATE TABLE order_submissions (
    order_id  UUID         PRIMARY KEY REFERENCES orders (order_id) ON DELETE CASCADE,
    sent_at   TIMESTAMPTZ  NOT NULL,
    attempts  INTEGER      NOT NULL DEFAULT 1
);
