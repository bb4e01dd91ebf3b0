"""Logs, metrics, the access log and the operational endpoints."""
