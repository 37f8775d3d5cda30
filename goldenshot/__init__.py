"""goldenshot: few-shot visual anomaly detection from a handful of good images."""

__version__ = "0.1.0"
