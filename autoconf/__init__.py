"""autoconf: replay, annotate and synthesise self-confrontation interviews."""

__version__ = "0.1.0"
