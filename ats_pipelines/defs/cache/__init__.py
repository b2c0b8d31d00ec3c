"""Cache: Redis mirrors of the database, rebuilt by sensor-launched runs."""
