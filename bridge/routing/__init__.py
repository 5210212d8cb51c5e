"""Round-robin routing: pools, the atomic weighted pick, availability and rebuild."""
