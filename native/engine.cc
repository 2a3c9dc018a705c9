// engine (placeholder)
