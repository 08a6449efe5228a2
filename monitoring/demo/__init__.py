"""The synthetic demo ward (SYNTHETIC data only) and its published demo accounts."""
