// srtp (placeholder)
