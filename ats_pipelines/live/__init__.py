"""The live decision loop: completed bars in, features, signals and orders out, while the market is open."""
