-- Roles from the spec's security section: pipelines write as ats_writer, analysts read as ats_reader.
-- Both are NOLOGIN group roles: grant them to login users (`GRANT ats_writer TO dagster_user`).
-- Roles are cluster-wide, so creating them is idempotent; privileges are per database.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ats_writer') THEN
        CREATE ROLE ats_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ats_reader') THEN
        CREATE ROLE ats_reader NOLOGIN;
    END IF;
END $$;

GRANT USAGE ON SCHEMA public TO ats_writer, ats_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ats_writer;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO ats_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ats_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO ats_reader;
