"""The fingerprint builder: golden samples in, a versioned fingerprint and its vector collection out."""
