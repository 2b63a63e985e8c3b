"""dataset: see docs/architecture.md."""
