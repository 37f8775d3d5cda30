"""Generated gRPC stubs (make proto) of proto/; do not edit."""
