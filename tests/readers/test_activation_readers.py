"""Activation readers: every format streams the same values in bounded pieces; aliases, named axes,
folders of checkpoints, and the located messages for bad input (pinned)."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import bf16_bits, safetensors_bytes

from evaluators._lib.moments import moments_of, needs_for
from registry.errors import ArtifactError, CannotMeasure
from registry.readers.activations.artifact import ActivationArtifact, open_tensors
from registry.readers.activations.store import ArtifactOptions
from registry.readers.activations.tensor import Tensor, slab_plan

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4, 5, 6)).astype(np.float32) * 3 + 1
STATS = ["mean", "mean_abs", "rms", "std", "kurtosis", "max_abs", "max", "min", "frac_above"]


def reference(x: np.ndarray, stat: str, axis: tuple[int, ...] | None = None) -> np.ndarray:
    x = x.astype(np.float64)
    mean = x.mean(axis=axis)
    if stat == "mean":
        return mean
    if stat == "mean_abs":
        return np.abs(x).mean(axis=axis)
    if stat == "rms":
        return np.sqrt((x * x).mean(axis=axis))
    if stat == "std":
        return x.std(axis=axis)
    if stat == "kurtosis":
        d = x - x.mean(axis=axis, keepdims=True)
        return (d**4).mean(axis=axis) / (d**2).mean(axis=axis) ** 2 - 3
    if stat == "max_abs":
        return np.abs(x).max(axis=axis)
    if stat == "max":
        return x.max(axis=axis)
    if stat == "min":
        return x.min(axis=axis)
    return (x > 1.0).mean(axis=axis)


def write(path: Path, arrays: dict[str, np.ndarray], compressed: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npy":
        ((_, arr),) = arrays.items()
        np.save(path, arr)
    elif path.suffix == ".npz":
        (np.savez_compressed if compressed else np.savez)(path, **arrays)  # type: ignore[operator]
    elif path.suffix == ".safetensors":
        codes = {np.float32: "F32", np.float16: "F16", np.float64: "F64", np.int32: "I32", np.int64: "I64"}
        path.write_bytes(safetensors_bytes({k: (codes[v.dtype.type], v) for k, v in arrays.items()}))
    elif path.suffix == ".h5":
        h5py = pytest.importorskip("h5py")
        with h5py.File(path, "w") as f:
            for k, v in arrays.items():
                # uncompressed: contiguous (memory-mapped); compressed: chunked (read through h5py)
                f.create_dataset(k, data=v, chunks=True if compressed else None, compression="gzip" if compressed else None)
    return path


FORMATS = [
    ("x.npy", False),
    ("x.npz", False),
    ("x.npz", True),
    ("x.safetensors", False),
    ("x.h5", False),
    ("x.h5", True),
]


@pytest.mark.parametrize(("fname", "compressed"), FORMATS)
@pytest.mark.parametrize("stat", STATS)
def test_every_format_streams_the_same_statistics(tmp_path: Path, fname: str, compressed: bool, stat: str) -> None:
    store = open_tensors(write(tmp_path / fname, {"x": X}, compressed))
    t = store.tensor("x")
    thr = 1.0 if stat == "frac_above" else None
    # small blocks: many blocks, slabs that split axes
    whole = moments_of(t, thr, needs=needs_for([stat]), block=7)
    assert whole.stat(stat) == pytest.approx(float(reference(X, stat)), rel=1e-9, abs=1e-12)
    per_axis1 = moments_of(t, thr, needs=needs_for([stat]), keep=[1], block=11).values(stat)
    np.testing.assert_allclose(per_axis1, reference(X, stat, axis=(0, 2, 3)), rtol=1e-9, atol=1e-12)
    sel = moments_of(t, thr, needs=needs_for([stat]), keep=[0], fixed={2: 3}, block=5).values(stat)
    np.testing.assert_allclose(sel, reference(X[:, :, 3, :], stat, axis=(1, 2)), rtol=1e-9, atol=1e-12)
    lead = moments_of(t, thr, needs=needs_for([stat]), keep=[0, 1], block=9).values(stat)
    np.testing.assert_allclose(lead, reference(X, stat, axis=(2, 3)), rtol=1e-9, atol=1e-12)


def test_contiguous_hdf5_is_memory_mapped(tmp_path: Path) -> None:
    from registry.readers.activations.tensor import ArrayTensor, MappedTensor

    assert isinstance(open_tensors(write(tmp_path / "a.h5", {"x": X})).tensor("x"), MappedTensor)
    assert isinstance(open_tensors(write(tmp_path / "b.h5", {"x": X}, True)).tensor("x"), ArrayTensor)


def test_empty_tensor_has_no_statistic(tmp_path: Path) -> None:
    t = open_tensors(write(tmp_path / "e.npy", {"e": np.zeros((0, 3), dtype=np.float32)})).tensor("e")
    m = moments_of(t, needs=needs_for(["rms"]))
    assert (m.total_count, m.stat("rms")) == (0, None)


def test_statistics_are_accurate_when_the_mean_dwarfs_the_spread() -> None:
    x = (1e6 + RNG.standard_normal(10_000)).astype(np.float64)
    m = moments_of(x, needs=needs_for(["std", "kurtosis"]), block=333)
    assert m.stat("std") == pytest.approx(float(x.std()), rel=1e-9)
    assert m.stat("kurtosis") == pytest.approx(float(reference(x, "kurtosis")), rel=1e-6)


def test_thread_count_does_not_change_the_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    t = open_tensors(write(tmp_path / "x.npy", {"x": X})).tensor("x")
    values = []
    for threads in ("1", "3"):
        monkeypatch.setenv("REGISTRY_THREADS", threads)
        values.append(moments_of(t, needs=needs_for(["rms", "std"]), keep=[0], block=13).values("rms").tolist())
    assert values[0] == values[1]


@pytest.mark.parametrize("shape", [(), (0,), (5,), (3, 0, 2), (2, 3, 4), (1, 1, 7, 2)])
@pytest.mark.parametrize("block", [1, 3, 8, 100])
def test_slab_plan_covers_every_element_once(shape: tuple[int, ...], block: int) -> None:
    seen = np.zeros(shape, dtype=int)
    for index in slab_plan(shape, block):
        seen[index] += 1
        region = seen[index]
        assert region.size <= max(block, shape[-1] if shape else 1)
    assert (seen == 1).all()


def test_nonfinite_values_are_counted_not_used(tmp_path: Path) -> None:
    x = np.arange(12, dtype=np.float32)
    x[[1, 5, 7]] = [np.nan, np.inf, -np.inf]
    t = open_tensors(write(tmp_path / "x.npy", {"x": x})).tensor("x")
    m = moments_of(t, needs=needs_for(["rms"]), block=4)
    assert m.total_nonfinite == 3 and m.total_count == 9
    finite = x[np.isfinite(x)].astype(np.float64)
    assert m.stat("rms") == pytest.approx(float(np.sqrt((finite**2).mean())))


def test_overflowing_float32_squares_are_not_taken_for_nonfinite() -> None:
    x = np.array([3e20, -3e20, 1.0], dtype=np.float32)
    m = moments_of(x, needs=needs_for(["rms"]))
    assert m.total_nonfinite == 0
    assert m.stat("rms") == pytest.approx(float(np.sqrt((x.astype(np.float64) ** 2).mean())))


def test_bf16_and_fp16_are_widened(tmp_path: Path) -> None:
    values = np.array([[1.5, -2.0], [0.25, 1024.0]], dtype=np.float32)
    path = tmp_path / "h.safetensors"
    path.write_bytes(safetensors_bytes({"b": ("BF16", values), "h": ("F16", values)}))
    store = open_tensors(path)
    for name in ("b", "h"):
        t = store.tensor(name)
        assert t.dtype == (np.float32 if name == "b" else np.float16)
        np.testing.assert_array_equal(t.load().astype(np.float32), values)
        assert moments_of(t, needs=needs_for(["mean"])).stat("mean") == pytest.approx(float(values.mean()))
    assert store.dtype("b") == "BF16"  # type: ignore[attr-defined]
    assert bf16_bits(values).dtype == np.uint16


def test_fortran_ordered_npy(tmp_path: Path) -> None:
    path = tmp_path / "f.npy"
    np.save(path, np.asfortranarray(X))
    t = open_tensors(path).tensor("f")
    np.testing.assert_allclose(moments_of(t, needs=needs_for(["mean"]), keep=[3], block=10).values("mean"),
                               X.astype(np.float64).mean(axis=(0, 1, 2)))


def test_stored_npz_members_are_memory_mapped(tmp_path: Path) -> None:
    from registry.readers.activations.tensor import MappedTensor

    store = open_tensors(write(tmp_path / "a.npz", {"a": X, "b": X[0]}))
    assert isinstance(store.tensor("a"), MappedTensor)
    np.testing.assert_array_equal(store.tensor("b").load(), X[0])


def test_a_checkpoint_folder_of_npy_files(tmp_path: Path) -> None:
    write(tmp_path / "acts" / "step_3" / "resid.npy", {"resid": X})
    write(tmp_path / "acts" / "step_3" / "more.npz", {"labels": np.arange(3)})
    art = ActivationArtifact(tmp_path / "acts")
    assert art.steps == [3]
    assert art.store().names() == ["labels", "resid"]


# --- names, aliases, axes ------------------------------------------------------------------------------
def test_aliases_globs_and_exact_names_with_brackets(tmp_path: Path) -> None:
    path = write(tmp_path / "a.npz", {":out[0]": X[0], "blocks.10.h": X[1], "blocks.9.h": X[2]})
    store = open_tensors(path, options=ArtifactOptions(aliases={"logits": ":out[0]"}))
    assert store.match(":out[0]") == [":out[0]"]
    assert store.match("logits") == [":out[0]"]
    assert store.match("blocks.*.h") == ["blocks.9.h", "blocks.10.h"]  # natural order
    np.testing.assert_array_equal(store.tensor("logits").load(), X[0])


def test_missing_tensor_suggests_a_name(tmp_path: Path) -> None:
    store = open_tensors(write(tmp_path / "acts.npz", {"blocks.0.hook_resid_post": X}))
    with pytest.raises(CannotMeasure) as info:
        store.tensor("blocks.0.hook_resid_pre")
    assert info.value.reason == "acts.npz has no tensor 'blocks.0.hook_resid_pre'; did you mean 'blocks.0.hook_resid_post'?"


def test_alias_to_a_missing_tensor(tmp_path: Path) -> None:
    store = open_tensors(write(tmp_path / "acts.npz", {"resid": X}), options=ArtifactOptions(aliases={"r": "resd"}))
    with pytest.raises(CannotMeasure) as info:
        store.tensor("r")
    assert info.value.reason == "acts.npz has no tensor 'resd'; did you mean 'resid'? (the alias 'r' names it)"


def test_axes_from_metadata_and_manifest(tmp_path: Path) -> None:
    path = tmp_path / "a.safetensors"
    path.write_bytes(safetensors_bytes({"p": ("F32", X)}, {"axes": json.dumps({"p": ["batch", "head", "q", "k"]})}))
    assert open_tensors(path).tensor("p").axes == ["batch", "head", "q", "k"]
    declared = ArtifactOptions(axes={"p*": ["b", "h", "q", "k"]})
    t = open_tensors(path, options=declared).tensor("p")
    assert (t.axes, t.axes_source) == (["b", "h", "q", "k"], "the run manifest's `axes` entry 'p*'")


def test_wrong_rank_for_declared_axes(tmp_path: Path) -> None:
    path = write(tmp_path / "a.npz", {"p": X})
    store = open_tensors(path, options=ArtifactOptions(axes={"p": ["batch", "pos", "d_model"]}))
    with pytest.raises(CannotMeasure) as info:
        store.tensor("p")
    assert info.value.reason == (
        "a.npz: tensor 'p' has shape [3, 4, 5, 6] (4 axes), but the run manifest's `axes` names 3 axes "
        "['batch', 'pos', 'd_model']"
    )


# --- bad files -----------------------------------------------------------------------------------------
def truncate(path: Path, keep: int) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[:keep] if keep >= 0 else data[:keep])
    return path


def test_truncated_npy(tmp_path: Path) -> None:
    path = truncate(write(tmp_path / "resid.npy", {"resid": X}), -100)
    with pytest.raises(ArtifactError) as info:
        open_tensors(path)
    assert str(info.value).endswith(
        "resid.npy: not a readable .npy file: tensor 'resid' [3, 4, 5, 6] float32 needs 1440 bytes of data after "
        "its header, the file has 1340 (hint: the file is truncated)"
    )


def test_truncated_safetensors(tmp_path: Path) -> None:
    path = tmp_path / "acts.safetensors"
    path.write_bytes(safetensors_bytes({"resid": ("F32", X)}))
    truncate(path, -8)
    with pytest.raises(ArtifactError) as info:
        open_tensors(path)
    assert "acts.safetensors: tensor 'resid' extends past the end of the file" in str(info.value)
    assert str(info.value).endswith("(hint: the file is truncated)")


@pytest.mark.parametrize("compressed", [False, True])
def test_truncated_npz(tmp_path: Path, compressed: bool) -> None:
    path = truncate(write(tmp_path / "acts.npz", {"resid": X}, compressed), 300)
    with pytest.raises(ArtifactError) as info:
        store = open_tensors(path)
        moments_of(store.tensor("resid"))
    assert "acts.npz: not a readable .npz file: File is not a zip file (hint: the file may be truncated)" in str(info.value)


def test_corrupt_compressed_member(tmp_path: Path) -> None:
    path = write(tmp_path / "acts.npz", {"resid": RNG.standard_normal(5000)}, compressed=True)
    data = bytearray(path.read_bytes())
    info = zipfile.ZipFile(path).getinfo("resid.npy")
    data[info.header_offset + 200] ^= 0xFF  # inside the deflated data
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError) as err:
        moments_of(open_tensors(path).tensor("resid"))
    assert "acts.npz: cannot read tensor 'resid'" in str(err.value)


def test_hdf5_without_h5py_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "acts.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ArtifactError) as info:
        open_tensors(tmp_path / "acts.h5")
    assert str(info.value).endswith(
        "acts.h5: reading HDF5 activation files needs h5py, which is not installed "
        "(hint: pip install 'claims-registry[hdf5]')"
    )


def test_truncated_hdf5(tmp_path: Path) -> None:
    path = truncate(write(tmp_path / "acts.h5", {"resid": RNG.standard_normal((200, 50))}), 1000)
    with pytest.raises(ArtifactError) as info:
        open_tensors(path)
    assert "acts.h5: not a readable HDF5 file:" in str(info.value)


def test_hdf5_axes_attribute_and_dataset_paths(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "a.h5", "w") as f:
        d = f.create_dataset("layers/0/resid", data=X)
        d.attrs["axes"] = json.dumps(["batch", "pos", "x", "d_model"])
    store = open_tensors(tmp_path / "a.h5")
    assert store.names() == ["layers/0/resid"]
    assert store.tensor("layers/0/resid").axes == ["batch", "pos", "x", "d_model"]


# --- folders of checkpoints ----------------------------------------------------------------------------
def test_folder_default_step_pattern(tmp_path: Path) -> None:
    for name in ("step_000500.npz", "step-20.npz", "step7.npz", "notes.txt", "step_000500.npz.tmp"):
        (tmp_path / "ck").mkdir(exist_ok=True)
        if name.endswith(".npz"):
            write(tmp_path / "ck" / name, {"a": X})
        else:
            (tmp_path / "ck" / name).write_text("x")
    art = ActivationArtifact(tmp_path / "ck")
    assert art.steps == [7, 20, 500]


def test_folder_with_a_custom_pattern(tmp_path: Path) -> None:
    for w in (128, 64):
        write(tmp_path / "w" / f"width_{w:06d}.npz", {"a": X})
    art = ActivationArtifact(tmp_path / "w", ArtifactOptions(step_pattern=r"width_(?P<step>\d+)\.npz"))
    assert art.steps == [64, 128]


def test_folder_without_a_matching_checkpoint(tmp_path: Path) -> None:
    write(tmp_path / "ck" / "ckpt-100.safetensors", {"a": X})
    (tmp_path / "ck" / "README").write_text("x")
    with pytest.raises(ArtifactError) as info:
        ActivationArtifact(tmp_path / "ck")
    assert str(info.value).endswith(
        "ck: no checkpoint in this folder matches the step pattern "
        "'step[_-]?(?P<step>\\d+)(?:\\.(?:safetensors|npy|npz|h5|hdf5))?' (it holds: README, ckpt-100.safetensors) "
        "(hint: name checkpoints like step_000500.safetensors, or set `step_pattern:` (a regex with a group `step`) "
        "for this artifact in run.yaml)"
    )


def test_folder_with_two_files_for_one_step(tmp_path: Path) -> None:
    write(tmp_path / "ck" / "step_5.npz", {"a": X})
    write(tmp_path / "ck" / "step_005.npy", {"a": X})
    with pytest.raises(ArtifactError) as info:
        ActivationArtifact(tmp_path / "ck")
    assert str(info.value).endswith("ck: step 5 has two checkpoints: step_005.npy and step_5.npz (hint: keep one file per step)")


def test_only_a_bounded_number_of_checkpoints_stay_open(tmp_path: Path) -> None:
    for s in range(12):
        write(tmp_path / "ck" / f"step_{s}.npy", {"a": X})
    art = ActivationArtifact(tmp_path / "ck")
    for c in art.checkpoints:
        moments_of(art.store(c).tensor(f"step_{c.step}"))
    assert len(art._stores) == 8


def test_tensor_is_the_base_of_every_reader(tmp_path: Path) -> None:
    store = open_tensors(write(tmp_path / "x.npz", {"x": X}, compressed=True))
    assert isinstance(store.tensor("x"), Tensor)
    np.testing.assert_array_equal(store.array("x"), X)
