"""Activation artifacts: named tensors in `.safetensors`, `.npy`, `.npz` or `.h5` files, or a folder
holding one such file (or one sub-folder of them) per checkpoint, named with its step.

Tensors are addressed by name: safetensors and npz keys, HDF5 dataset paths, the `.npy` file stem;
the manifest may add `aliases` and declare `axes` per tensor (safetensors files may carry them too,
as JSON under the `axes` metadata key). Only the tensors a prediction names are read, and they are
read in bounded pieces:

- `Tensor.blocks(n)` yields the elements in C order, at most `n` at a time (the fast path for
  statistics over every element);
- `Tensor.slabs(n, ...)` yields contiguous regions along the leading axes, each a full-rank array,
  for reductions that keep axes or need whole rows (attention, the logit lens, CKA).

Tensors stored raw (npy, safetensors, uncompressed npz members, contiguous HDF5 datasets) are read
through one read-only memory map per file, and the pages of each block are dropped from the process
(`MADV_DONTNEED`) once it is used: resident memory stays bounded by the block size whatever the
file's size, while the page cache keeps the file warm. Compressed npz members are decompressed as a
stream. bf16 (which numpy lacks) is widened to float32 per block; float16 is delivered as is.

Errors: an unreadable or truncated file is bad input (`ArtifactError`, exit 2); a tensor that is not
there, or whose declared axes do not fit it, makes the prediction inconclusive (`CannotMeasure`).


Modules: `tensor` (Tensor, MappedTensor, ArrayTensor), `store` (TensorStore), one module per format
(`npy`, `npz`, `safetensors`, `hdf5`), and `artifact` (a file or a folder of checkpoints).
"""
