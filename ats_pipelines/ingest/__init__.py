"""From vendor records to table rows: declarative column maps, validation and the quarantine."""
