-- The compression state of one hypertable, for migration_ops.compression_suspended: no row when the table is
-- not a hypertable with compression enabled; otherwise its segmentby and orderby (as TimescaleDB prints them),
-- its compression policy's compress_after (NULL without a policy) and the chunks compressed now.
SELECT s.segmentby,
       s.orderby,
       (SELECT j.config ->> 'compress_after' FROM timescaledb_information.jobs j
        WHERE j.proc_name = 'policy_compression' AND j.hypertable_schema = h.hypertable_schema
          AND j.hypertable_name = h.hypertable_name) AS compress_after,
       ARRAY(SELECT quote_ident(c.chunk_schema) || '.' || quote_ident(c.chunk_name) FROM timescaledb_information.chunks c
             WHERE c.hypertable_schema = h.hypertable_schema AND c.hypertable_name = h.hypertable_name
               AND c.is_compressed) AS compressed_chunks
FROM timescaledb_information.hypertables h
JOIN timescaledb_information.hypertable_compression_settings s ON s.hypertable = quote_ident(h.hypertable_name)::regclass
WHERE h.hypertable_schema = current_schema() AND h.hypertable_name = %(table)s AND h.compression_enabled
