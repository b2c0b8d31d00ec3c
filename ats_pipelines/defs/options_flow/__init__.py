"""Options flow from Unusual Whales."""
