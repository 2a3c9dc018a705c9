// rtp (placeholder)
