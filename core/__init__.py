"""The shared core every app builds on: errors and their codes, input parsing,
payload helpers, publication of events, rate limits, Redis clients and REST
helpers. It imports no app (tests/test_architecture.py enforces it), so any
app may import it without a cycle.
"""
