"""What an operator watches: metrics for Prometheus, readiness checks, JSON log lines."""
