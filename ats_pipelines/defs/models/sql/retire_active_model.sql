-- Promotion, first half: the active model the new one was compared with steps down (locked first by
-- lock_active_model.sql in the same transaction).
UPDATE models SET status = 'retired' WHERE model_id = %(model_id)s AND status = 'active'
