"""Local stand-ins for the paid external APIs (never for PostgreSQL or Redis)."""
