// peer (placeholder)
