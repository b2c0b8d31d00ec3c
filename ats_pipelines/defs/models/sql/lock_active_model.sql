-- Promotion: the active model of the name now, its row locked until the transaction ends, so the retire and the
-- insert act on the state the gate's comparison saw or not at all.
SELECT model_id::text FROM models WHERE model_name = %(model_name)s AND status = 'active' FOR UPDATE
