// stun (placeholder)
