"""The package version (a leaf module: io, the bench and the study stamp files with it)."""

__version__ = "0.1.0"
