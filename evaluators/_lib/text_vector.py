"""The per-sample text statistics and pattern matches of many samples at once, with values identical
to `TextStatistics.measure` and RE2's `search` one sample at a time (tests/evaluators check both).

Words of ASCII samples without apostrophes (most text; `words` takes its bytes fast path for them)
are split by pyarrow and numbered by a dictionary; each sample's n-grams become exact integer keys
(n-gram k = (row-local rank of its first k-1 words) * vocabulary + its last word), and the distinct
ones are counted by sorting each sample's keys in a padded row. Other samples (non-ASCII,
apostrophes, `unit: char`, a character vocabulary) are measured one by one, as before.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .text import _NOT_WORD, TextStatistics

if TYPE_CHECKING:
    import numpy as np

_PAD32 = (1 << 31) - 1  # the int32 padding: keys below it fit in int32
_CELLS = 1 << 22  # padded cells at a time (32 MB of int64)
_BLOCK = 1 << 15  # texts measured at a time
_THREADS = 4


def measure_all(stats: TextStatistics, texts: Sequence[str]) -> tuple[np.ndarray, ...]:
    """(length, distinct-n, repetition rate, vocabulary fraction) of every text, as float64 arrays."""
    import numpy as np

    out = tuple(np.empty(len(texts)) for _ in range(4))

    def block(lo: int) -> None:
        for column, values in zip(out, _block_statistics(stats, texts[lo : lo + _BLOCK]), strict=True):
            column[lo : lo + values.size] = values

    in_threads(block, range(0, len(texts), _BLOCK))
    return out


def in_threads(work: Callable[[int], None], items: Sequence[int]) -> None:
    """`work` on each item, on up to one thread per core: pyarrow and numpy's sorts release the GIL."""
    from concurrent.futures import ThreadPoolExecutor

    workers = min(len(items), os.cpu_count() or 1, _THREADS)
    if workers <= 1:
        for item in items:
            work(item)
        return
    pool = ThreadPoolExecutor(workers)
    try:
        for _ in pool.map(work, items):
            pass
    finally:
        pool.shutdown(cancel_futures=True)  # on a timeout (SIGALRM), blocks not started are dropped


def _block_statistics(stats: TextStatistics, texts: Sequence[str]) -> tuple[np.ndarray, ...]:
    import numpy as np

    vectorised = stats.unit == "word" and (stats.vocab is None or stats.vocab_unit == "word")
    if vectorised and _plain("".join(texts)):  # one look at the block instead of one per sample
        return _word_statistics(stats, texts)
    out = tuple(np.full(len(texts), math.nan) for _ in range(4))
    fast = np.fromiter((vectorised and _plain(t) for t in texts), dtype=bool, count=len(texts))
    for i in np.flatnonzero(~fast).tolist():
        for column, value in zip(out, stats.measure(texts[i]), strict=True):
            column[i] = value
    rows = np.flatnonzero(fast)
    if rows.size:
        for column, values in zip(out, _word_statistics(stats, [texts[i] for i in rows.tolist()]), strict=True):
            column[rows] = values
    return out


def _plain(text: str) -> bool:
    """ASCII without apostrophes: the words are those of `words`' bytes fast path."""
    return text.isascii() and "'" not in text


def _word_statistics(stats: TextStatistics, texts: Sequence[str]) -> tuple[np.ndarray, ...]:
    import numpy as np

    ids, lengths, dictionary = _word_ids(texts)
    starts = np.cumsum(lengths) - lengths
    length = lengths.astype(np.float64)
    distinct_of = _one_matrix(ids, lengths) or _bucketed(ids, starts, lengths)
    d, t = distinct_of(np.arange(lengths.size), stats.n)
    with np.errstate(divide="ignore", invalid="ignore"):
        distinct = np.where(t > 0, d / np.maximum(t, 1), math.nan)
        rn = stats.repetition_n
        if rn == stats.n:
            repetition = np.where(t > 0, 1.0 - distinct, math.nan)
        else:
            repetition = np.full(lengths.size, math.nan)
            # As `measure`: when no n-gram repeats, no longer one can.
            none_repeat = (t > 0) & (d == t) if rn > stats.n else np.zeros(lengths.size, dtype=bool)
            repetition[none_repeat & (lengths >= rn)] = 0.0
            rest = np.flatnonzero(~none_repeat)
            d2, t2 = distinct_of(rest, rn)
            repetition[rest] = np.where(t2 > 0, 1.0 - d2 / np.maximum(t2, 1), math.nan)
        vocab = _vocab_fraction(stats, ids, lengths, dictionary)
    return length, distinct, repetition, vocab


def _word_ids(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Every word of every (ASCII, apostrophe-free) text as an index into the list of distinct words,
    and the number of words of each text."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    # Each text keeps one trailing separator; translating non-word bytes to spaces keeps every offset.
    joined = (" ".join(texts) + " ").encode().translate(_NOT_WORD)
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) + 1, out=offsets[1:])
    array = pa.LargeStringArray.from_buffers(len(texts), pa.py_buffer(offsets), pa.py_buffer(joined))
    split = pc.split_pattern(array, pattern=" ")  # runs of spaces leave empty strings: dropped below
    encoded = split.values.dictionary_encode()
    dictionary: list[str] = encoded.dictionary.to_pylist()
    ids = _integers(encoded.indices)
    words = ids != (dictionary.index("") if "" in dictionary else -1)
    # Every text splits into at least one string, so no two starts are equal (reduceat's caveat).
    lengths = np.add.reduceat(words, _integers(split.offsets)[:-1], dtype=np.int64)
    return ids[words], lengths, dictionary


def _vocab_fraction(stats: TextStatistics, ids: np.ndarray, lengths: np.ndarray, dictionary: list[str]) -> np.ndarray:
    import numpy as np

    if stats.vocab is None:
        return np.full(lengths.size, math.nan)
    # ASCII words: lower() is casefold(), and a word is in the vocabulary's bytes iff it is in it.
    known = np.fromiter(((w.lower() if stats.fold else w) in stats.vocab for w in dictionary), dtype=bool, count=len(dictionary))
    ends = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=ends[1:])
    hits = np.zeros(ids.size + 1, dtype=np.int64)
    np.cumsum(known[ids], out=hits[1:])
    hits = hits[ends[1:]] - hits[ends[:-1]]
    return np.where(lengths > 0, hits / np.maximum(lengths, 1), math.nan)


Distinct = Callable[[Any, int], tuple[Any, Any]]
"""(rows, n) -> (distinct n-grams, all n-grams) of each of those texts."""


def _key_type(vocabulary: int, width: int) -> Any:
    """Keys are < vocabulary * max(vocabulary, width): int32 when that fits, else int64."""
    import numpy as np

    return np.int32 if vocabulary * max(vocabulary, width) < _PAD32 else np.int64


def _one_matrix(ids: np.ndarray, lengths: np.ndarray) -> Distinct | None:
    """All texts in one padded matrix, when that pads them at most twofold (texts of similar lengths)."""
    import numpy as np

    width = int(lengths.max()) if lengths.size else 0
    if not width or width * lengths.size > 2 * ids.size + lengths.size:
        return None
    vocabulary = int(ids.max()) + 1 if ids.size else 1
    dtype = _key_type(vocabulary, width)
    words = np.full((lengths.size, width), np.iinfo(dtype).max, dtype=dtype)
    words[np.arange(width)[None, :] < lengths[:, None]] = ids  # row-major: each text's words in order

    def distinct(rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        total = np.maximum(lengths[rows] - n + 1, 0)
        if total.size == 0 or n > width:
            return np.zeros(total.size, dtype=np.int64), total
        keys = _ngram_keys(words if rows.size == lengths.size else words[rows], lengths[rows], n, vocabulary)
        return np.where(total > 0, _count_distinct(keys, total), 0), total

    return distinct


def _bucketed(ids: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> Distinct:
    """Texts of very different lengths: padded in groups of similar length."""
    return lambda rows, n: _distinct(ids, starts[rows], lengths[rows], n)


def _distinct(ids: np.ndarray, starts: np.ndarray, lengths: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct n-grams, all n-grams) of each text, the texts given by their words' starts and counts."""
    import numpy as np

    total = np.maximum(lengths - n + 1, 0)
    distinct = np.zeros(lengths.size, dtype=np.int64)
    todo = np.flatnonzero(total > 0)
    if not todo.size:
        return distinct, total
    vocabulary = int(ids.max()) + 1
    bucket = np.ceil(np.log2(lengths[todo])).astype(np.int64)  # rows of similar length padded together
    for b in np.unique(bucket).tolist():
        group = todo[bucket == b]
        width = int(lengths[group].max())
        dtype = _key_type(vocabulary, width)
        step = max(1, _CELLS // width)
        for lo in range(0, group.size, step):
            rows = group[lo : lo + step]
            words = _padded(ids, starts[rows], lengths[rows], width, dtype)
            distinct[rows] = _count_distinct(_ngram_keys(words, lengths[rows], n, vocabulary), total[rows])
    return distinct, total


def _padded(ids: np.ndarray, starts: np.ndarray, lengths: np.ndarray, width: int, dtype: Any) -> np.ndarray:
    """One row per text: its word ids, then padding (the dtype's largest value)."""
    import numpy as np

    inside = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    matrix = np.full(lengths.size * width, np.iinfo(dtype).max, dtype=dtype)
    matrix[np.repeat(np.arange(lengths.size) * width, lengths) + inside] = ids[np.repeat(starts, lengths) + inside]
    return matrix.reshape(lengths.size, width)


def _ngram_keys(words: np.ndarray, lengths: np.ndarray, n: int, vocabulary: int) -> np.ndarray:
    """Per row, an exact key of the n-gram starting at each column; padding where none starts."""
    import numpy as np

    pad = np.iinfo(words.dtype).max
    keys = words
    for k in range(2, n + 1):
        first = keys if k == 2 else _ranks(keys)  # word ids, or ranks of the (k-1)-grams in the row
        width = words.shape[1] - k + 1
        with np.errstate(over="ignore"):  # padded cells overflow; they are masked below
            joined = first[:, :width] * words.dtype.type(vocabulary) + words[:, k - 1 : k - 1 + width]
        starts = np.arange(width)[None, :] < (lengths - k + 1)[:, None]
        keys = np.where(starts, joined, pad)
    return keys


def _ranks(keys: np.ndarray) -> np.ndarray:
    """Each key's rank among the distinct keys of its row (equal keys, equal ranks)."""
    import numpy as np

    order = np.argsort(keys, axis=1, kind="stable")
    ordered = np.take_along_axis(keys, order, axis=1)
    step = np.zeros(keys.shape, dtype=keys.dtype)
    step[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ranks = np.empty_like(step)
    np.put_along_axis(ranks, order, np.cumsum(step, axis=1), axis=1)
    return ranks


def _count_distinct(keys: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Distinct keys among the first `total` (the row's n-grams: padding sorts after them) of each row."""
    import numpy as np

    ordered = np.sort(keys, axis=1)
    new = ordered[:, 1:] != ordered[:, :-1]
    new &= np.arange(1, keys.shape[1])[None, :] < total[:, None]
    return 1 + np.count_nonzero(new, axis=1)  # type: ignore[no-any-return]


def matches_all(compiled: Any, pattern: str, ignore_case: bool, texts: Sequence[str]) -> np.ndarray:
    """Whether RE2 finds `pattern` in each text: pyarrow's RE2 over all texts, or, for text Python
    cannot encode as UTF-8, `compiled.search` one by one (which raises as it always did)."""
    import numpy as np

    found = np.zeros(len(texts), dtype=bool)

    def block(lo: int) -> None:
        chunk = texts[lo : lo + _BLOCK]
        found[lo : lo + len(chunk)] = _matches(compiled, pattern, ignore_case, chunk)

    in_threads(block, range(0, len(texts), _BLOCK))
    return found


def _matches(compiled: Any, pattern: str, ignore_case: bool, texts: Sequence[str]) -> np.ndarray:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        joined = "".join(texts).encode()
    except UnicodeEncodeError:
        return np.fromiter((compiled.search(t) is not None for t in texts), dtype=bool, count=len(texts))
    sizes = map(len, texts) if len(joined) == sum(map(len, texts)) else (len(t.encode()) for t in texts)
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(sizes, dtype=np.int64, count=len(texts)), out=offsets[1:])
    array = pa.LargeStringArray.from_buffers(len(texts), pa.py_buffer(offsets), pa.py_buffer(joined))
    try:
        found = pc.match_substring_regex(array, pattern=pattern, ignore_case=ignore_case)
    except pa.ArrowException:  # a pattern pyarrow's RE2 refuses (a size limit): as before, one by one
        return np.fromiter((compiled.search(t) is not None for t in texts), dtype=bool, count=len(texts))
    bits = np.frombuffer(found.buffers()[1], dtype=np.uint8)
    return np.unpackbits(bits, count=found.offset + len(found), bitorder="little")[found.offset :].astype(bool)


def _integers(array: Any) -> np.ndarray:
    """A pyarrow array of integers without nulls as a numpy view (`to_numpy` would import pandas)."""
    import numpy as np

    dtype = np.dtype(f"int{array.type.bit_width}")
    return np.frombuffer(array.buffers()[1], dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize)
