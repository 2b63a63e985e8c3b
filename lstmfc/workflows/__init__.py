"""workflows: see docs/architecture.md."""
