// dtls (placeholder)
