-- Promotion, first half: the current active model of the name steps down.
UPDATE models SET status = 'retired' WHERE model_name = %(model_name)s AND status = 'active'
