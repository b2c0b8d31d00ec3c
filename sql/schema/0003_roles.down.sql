-- Reverse of 0003_roles.up.sql. The roles are dropped only when no other database still grants them
-- anything (roles are cluster-wide); otherwise they stay and a NOTICE says so.
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM ats_writer, ats_reader;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ats_writer, ats_reader;
REVOKE USAGE ON SCHEMA public FROM ats_writer, ats_reader;
DO $$
BEGIN
    DROP ROLE IF EXISTS ats_reader;
    DROP ROLE IF EXISTS ats_writer;
EXCEPTION WHEN dependent_objects_still_exist THEN
    RAISE NOTICE 'ats_writer/ats_reader still hold privileges in another database; kept';
END $$;
