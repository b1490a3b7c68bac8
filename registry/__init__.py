"""claims-registry: falsifiable claims about ML training runs, judged on their artifacts."""

__version__ = "0.1.0"
