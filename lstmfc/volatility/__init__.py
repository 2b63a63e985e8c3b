"""volatility: see docs/architecture.md."""
