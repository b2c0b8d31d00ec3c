"""Trading: orders and positions through a broker, risk limits and the emergency stop."""
