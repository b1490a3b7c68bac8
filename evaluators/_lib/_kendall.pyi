"""Kendall's discordant pairs counted in a merge sort: the C extension built from _kendall.c (optional)."""

# Any object exporting a buffer (numpy arrays declare __buffer__ to type checkers only from Python 3.12).
def sort_count(values: object, out: object, /) -> int | None:
    """Copy the C-contiguous float64 buffer `values` into `out` sorted ascending; return the number of pairs
    i < j with values[i] > values[j] (equal values, -0.0 and 0.0 included, are not counted), or None if a
    value is NaN (out is then unspecified). TypeError unless both are C-contiguous float64 of one length."""
