"""goldenshot's deployables (embedded server, ingest, builder, scorer) and the adapters they share."""
