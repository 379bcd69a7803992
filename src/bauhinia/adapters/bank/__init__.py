"""bank layer."""
