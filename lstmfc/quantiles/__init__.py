"""quantiles: see docs/architecture.md."""
