"""Kendall's discordant pairs counted in a merge sort: the C extension built from _kendall.c (optional)."""

# Any objects exporting buffers (numpy arrays declare __buffer__ to type checkers only from Python 3.12).
def sort_count(values: object, out: object, sizes: object, /) -> tuple[int, int] | None:
    """Copy the C-contiguous float64 buffer `values` into `out` sorted ascending, write the sizes of its
    groups of equal values (ascending order of value) to the first entries of the int64 buffer `sizes`,
    and return (the number of pairs i < j with values[i] > values[j], the number of groups). Equal values,
    -0.0 and 0.0 included, are not counted. None if a value is NaN (the buffers are then unspecified).
    TypeError or ValueError unless all three are C-contiguous, of those types and of one length."""
