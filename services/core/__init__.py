"""The typed application core: domain errors and models, knowing nothing of HTTP or gRPC."""
