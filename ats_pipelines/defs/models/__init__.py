"""Models: walk-forward XGBoost training, a registry with a promotion gate, and trading signals."""
