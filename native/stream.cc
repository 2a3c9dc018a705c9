// stream (placeholder)
