-- The newest feature time: a refresh without partitions mirrors the days before it.
SELECT max("timestamp") AS latest FROM features
