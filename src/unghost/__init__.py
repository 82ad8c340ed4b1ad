"""unghost: keeps stalled sales conversations alive."""

__version__ = "0.1.0"
