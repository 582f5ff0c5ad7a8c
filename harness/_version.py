"""The harness's version: part of every report's reproduction settings and of cache keys."""

__version__ = "0.1.0"
