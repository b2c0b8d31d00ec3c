-- The newest flow alert we hold, to fetch only what came after it (with an overlap for late arrivals).
SELECT max("timestamp") AS newest FROM unusual_whales_options
