"""screening layer."""
