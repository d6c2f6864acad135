"""sodata: an open, self-hostable implementation of the SoData IoT API."""

__version__ = "0.1.0"
