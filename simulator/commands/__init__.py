"""Subcommands of the `infogap` CLI, one module per feature."""
