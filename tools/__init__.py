"""Tooling around the services, not part of them: fault verification, seeding, sample files, the schema catalog.

Nothing under `services/` imports this package at import time; `orderinfo verify|seed|run` load it lazily.
"""
