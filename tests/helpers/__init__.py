"""Reusable builders for tests: real API Gateway REST proxy events, SQS batches, Lambda contexts."""
