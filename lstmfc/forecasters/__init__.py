"""forecasters: see docs/architecture.md."""
