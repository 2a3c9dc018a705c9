// worker (placeholder)
