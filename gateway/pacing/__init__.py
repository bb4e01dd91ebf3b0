"""Send-rate limits: a sliding window per bind, a token bucket, the shared grant in Redis."""
