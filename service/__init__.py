"""jixiao: budget-performance self-evaluation reports in, checked structured data out."""

__version__ = "0.1.0"
