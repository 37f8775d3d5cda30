"""The REST API: products, golden samples, fingerprints, inspections, jobs, webhooks."""
