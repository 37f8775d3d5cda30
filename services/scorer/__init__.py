"""The scorer: inspections against the active fingerprint, kept hot in memory."""
