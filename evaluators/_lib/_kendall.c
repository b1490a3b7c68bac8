/* Kendall's discordant pairs in one merge sort (evaluators/_lib/kendall.py; issue 14).
 *
 * sort_count(values, out, sizes) copies the float64 values into out, sorts them ascending, writes the sizes
 * of the groups of equal values (ascending order of value, as np.unique's counts) to the first entries of
 * the int64 buffer sizes, and returns (the number of pairs i < j with values[i] > values[j], the number of
 * groups). Equal values (-0.0 == 0.0 included, as numpy compares) are not counted: the merge takes the left
 * element on a tie. Returns None, the buffers unspecified, if a value is NaN (there is no order to count
 * against; the caller then takes its numpy path).
 *
 * Plain CPython C API and the buffer protocol (no numpy headers): C-contiguous buffers of format 'd', and
 * of an 8-byte signed integer for sizes. The GIL is released while sorting. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RUN 32 /* runs sorted by insertion first: fewer passes, and no call overhead on short runs */

/* Sorts a[0..n) in runs of RUN; returns the inversions inside the runs, sets *nan if a value is NaN. */
static uint64_t sort_runs(double *a, Py_ssize_t n, int *nan)
{
    uint64_t count = 0;
    for (Py_ssize_t lo = 0; lo < n; lo += RUN) {
        Py_ssize_t hi = lo + RUN < n ? lo + RUN : n;
        for (Py_ssize_t k = lo; k < hi; k++) {
            double x = a[k];
            Py_ssize_t p = k;
            if (x != x) {
                *nan = 1;
            }
            while (p > lo && a[p - 1] > x) {
                a[p] = a[p - 1];
                p--;
            }
            a[p] = x;
            count += (uint64_t)(k - p);
        }
    }
    return count;
}

/* Merges the sorted src[lo..mid) and src[mid..hi) into dst[lo..hi); returns the pairs (left > right). */
static uint64_t merge(const double *src, double *dst, Py_ssize_t lo, Py_ssize_t mid, Py_ssize_t hi)
{
    uint64_t count = 0;
    Py_ssize_t i = lo, j = mid, k = lo;
    while (i < mid && j < hi) {
        double l = src[i], r = src[j];
        int right = r < l; /* strict: a tie takes the left element, and is no inversion */
        dst[k++] = right ? r : l;
        count += right ? (uint64_t)(mid - i) : 0;
        i += !right;
        j += right;
    }
    if (i < mid) {
        memcpy(dst + k, src + i, (size_t)(mid - i) * sizeof(double));
    }
    else if (j < hi) {
        memcpy(dst + k, src + j, (size_t)(hi - j) * sizeof(double));
    }
    return count;
}

/* Sorts out[0..n) (tmp: room for n doubles); returns the inversions, or sets *nan. */
static uint64_t sort_count(double *out, double *tmp, Py_ssize_t n, int *nan)
{
    uint64_t count = sort_runs(out, n, nan);
    double *src = out, *dst = tmp;
    if (*nan) {
        return 0;
    }
    for (Py_ssize_t width = RUN; width < n; width *= 2) {
        for (Py_ssize_t lo = 0; lo < n; lo += 2 * width) {
            Py_ssize_t mid = lo + width < n ? lo + width : n;
            Py_ssize_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            count += merge(src, dst, lo, mid, hi);
        }
        double *t = src;
        src = dst;
        dst = t;
    }
    if (src != out) {
        memcpy(out, src, (size_t)n * sizeof(double));
    }
    return count;
}

/* Writes the sizes of the runs of equal values of the sorted a[0..n) (n > 0); returns how many. */
static Py_ssize_t tie_groups(const double *a, Py_ssize_t n, int64_t *sizes)
{
    Py_ssize_t groups = 0, start = 0;
    for (Py_ssize_t k = 1; k < n; k++) {
        if (a[k] != a[k - 1]) {
            sizes[groups++] = (int64_t)(k - start);
            start = k;
        }
    }
    sizes[groups++] = (int64_t)(n - start);
    return groups;
}

/* Strips a byte-order prefix for the machine's own (native or, on the platforms built for, little-endian). */
static const char *format_of(const Py_buffer *view)
{
    const char *f = view->format == NULL ? "B" : view->format;
    return (f[0] == '@' || f[0] == '=' || f[0] == '<') ? f + 1 : f;
}

static int is_float64(const Py_buffer *view)
{
    return strcmp(format_of(view), "d") == 0 && view->itemsize == sizeof(double);
}

static int is_int64(const Py_buffer *view)
{
    const char *f = format_of(view);
    int integer = strcmp(f, "q") == 0 || strcmp(f, "l") == 0;
    return integer && view->itemsize == sizeof(int64_t);
}

/* (count, groups), None if a value is NaN, or NULL with an exception set; the buffers already checked. */
static PyObject *sort_count_buffers(const Py_buffer *in, Py_buffer *out, Py_buffer *sizes)
{
    Py_ssize_t n = in->len / (Py_ssize_t)sizeof(double), groups = 0;
    double *tmp = n > RUN ? PyMem_RawMalloc((size_t)n * sizeof(double)) : NULL;
    uint64_t count;
    int nan = 0;
    if (n > RUN && tmp == NULL) {
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    memmove(out->buf, in->buf, (size_t)in->len);
    count = sort_count((double *)out->buf, tmp, n, &nan);
    if (!nan && n > 0) {
        groups = tie_groups((const double *)out->buf, n, (int64_t *)sizes->buf);
    }
    Py_END_ALLOW_THREADS
    PyMem_RawFree(tmp);
    if (nan) {
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(Kn)", (unsigned long long)count, groups);
}

static PyObject *py_sort_count(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer views[3];
    int flags[3] = {PyBUF_C_CONTIGUOUS | PyBUF_FORMAT, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE,
                    PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE};
    PyObject *result = NULL;
    int got = 0;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "sort_count(values, out, sizes) takes 3 arguments");
        return NULL;
    }
    while (got < 3 && PyObject_GetBuffer(args[got], &views[got], flags[got]) == 0) {
        got++;
    }
    if (got < 3) {
        ; /* PyObject_GetBuffer set the exception */
    }
    else if (!is_float64(&views[0]) || !is_float64(&views[1]) || !is_int64(&views[2])) {
        PyErr_SetString(PyExc_TypeError, "sort_count needs C-contiguous float64 values and out, and int64 sizes");
    }
    else if (views[1].len != views[0].len || views[2].len != views[0].len) {
        PyErr_SetString(PyExc_ValueError, "sort_count: values, out and sizes differ in length");
    }
    else {
        result = sort_count_buffers(&views[0], &views[1], &views[2]);
    }
    while (got > 0) {
        PyBuffer_Release(&views[--got]);
    }
    return result;
}

static PyMethodDef methods[] = {
    {"sort_count", (PyCFunction)(void (*)(void))py_sort_count, METH_FASTCALL,
     "sort_count(values, out, sizes) -> (discordant, groups) | None: out = sorted values, sizes[:groups] = the "
     "sizes of the groups of equal values; discordant = the pairs i < j with values[i] > values[j] (None if a "
     "value is NaN)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_kendall",
    .m_doc = "Kendall's discordant pairs counted in a merge sort (C).",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__kendall(void)
{
    return PyModuleDef_Init(&module);
}
