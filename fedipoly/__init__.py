"""Fedipoly: a federated social network about what you do."""

__version__ = "0.1.0"
