"""The bottom layer: structured logs, redaction of secrets, Prometheus metrics. Imports nothing of the gateway."""
