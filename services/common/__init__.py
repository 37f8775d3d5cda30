"""What every service shares: settings, the catalog, and one adapter interface per backend."""
