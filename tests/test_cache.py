"""The reference cache: exact round trips, keys that never reuse a stale entry, damage, concurrency."""

from __future__ import annotations

import multiprocessing
import pickle
from pathlib import Path

import numpy as np
import pytest

import harness.oracle
import harness.store
from harness.cache import FORMAT, ReferenceCache, default_cache_dir, key_digest
from harness.cli import main
from harness.errors import UsageError
from harness.oracle import Oracle
from harness.runner import format_bytes
from harness.spec import load_spec
from harness.strategies import Example

ROOT = Path(__file__).resolve().parent.parent
SCALAR = ROOT / "specs" / "q2_neural_networks.yaml"
EXAMPLE = Example(
    sizes=(),
    values=tuple((name, np.array(value)) for name, value in
                 (("x", 0.5), ("w1", -1.25), ("b1", 0.75), ("w2", 2.0), ("b2", -0.5))),
)


@pytest.fixture
def cache(tmp_path: Path) -> ReferenceCache:
    return ReferenceCache(tmp_path / "cache")


def entry_files(cache: ReferenceCache) -> list[Path]:
    return sorted(path for path in cache.entries_dir.rglob("*") if path.is_file())


# -- the store ------------------------------------------------------------------------------------
def test_arrays_and_metadata_come_back_exactly(cache):
    arrays = {
        "scalar": np.array(0.1),
        "vector": np.array([1e-300, -0.0, 5e300]),
        "matrix": np.arange(6.0).reshape(2, 3),
    }
    cache.put(("k", 1), arrays, {"sizes": [["H", 2]]})
    got, meta = cache.get(("k", 1))
    assert list(got) == ["scalar", "vector", "matrix"]
    for name, array in arrays.items():
        assert got[name].shape == array.shape and got[name].tobytes() == array.tobytes()
    assert meta == {"sizes": [["H", 2]]}
    assert cache.get(("k", 2)) is None


def test_keys_that_differ_anywhere_have_different_digests():
    keys = [("a", 1), ("a", "1"), ("a", b"1"), ("a", None), ("a", True), ("a", (1,)), ("a1",), (("a", 1),)]
    assert len({key_digest(key) for key in keys}) == len(keys)


@pytest.mark.parametrize("damage", ["flip a payload byte", "truncate", "empty", "swap in another entry"])
def test_a_damaged_entry_reads_as_missing(cache, damage):
    cache.put(("k",), {"x": np.arange(4.0)})
    cache.put(("other",), {"x": np.arange(4.0) + 1})
    path = cache._path(key_digest(("k",)))
    data = path.read_bytes()
    if damage == "flip a payload byte":
        data = data[:-40] + bytes([data[-40] ^ 1]) + data[-39:]
    elif damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "empty":
        data = b""
    else:  # a whole, valid entry under the wrong name
        data = cache._path(key_digest(("other",))).read_bytes()
    path.write_bytes(data)
    assert cache.get(("k",)) is None
    assert cache.stats.corrupt == 1
    assert cache.get(("other",))[0]["x"].tolist() == [1.0, 2.0, 3.0, 4.0]


def test_an_entry_is_never_unpickled(cache, tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    cache.put(("k",), {"x": np.zeros(1)})
    cache._path(key_digest(("k",))).write_bytes(pickle.dumps(Payload()))
    assert cache.get(("k",)) is None
    assert not marker.exists()


def test_a_folder_others_can_write_is_refused(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    with pytest.raises(UsageError, match=r"writable by other users .* --no-cache"):
        ReferenceCache(folder)


def test_the_default_folder_follows_the_environment(tmp_path):
    assert default_cache_dir({"HARNESS_CACHE_DIR": str(tmp_path)}) == tmp_path
    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "harness"
    assert default_cache_dir({"XDG_CACHE_HOME": "relative"}) == Path.home() / ".cache" / "harness"
    assert default_cache_dir({}) == Path.home() / ".cache" / "harness"


def _write_many(folder: str, worker: int, count: int) -> None:
    cache = ReferenceCache(folder)
    for index in range(count):
        shared = ("shared", index)  # every process writes these too, at the same time
        cache.put(shared, {"x": np.full(50, float(index))})
        cache.put(("own", worker, index), {"x": np.full(50, worker + index / 1000)})


def test_concurrent_writers_lose_nothing(tmp_path):
    folder, workers, count = str(tmp_path / "cache"), 4, 150
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_write_many, args=(folder, w, count)) for w in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    cache = ReferenceCache(folder)
    for index in range(count):
        assert cache.get(("shared", index))[0]["x"].tolist() == [float(index)] * 50
        for worker in range(workers):
            assert cache.get(("own", worker, index))[0]["x"][0] == worker + index / 1000
    assert cache.stats.corrupt == 0
    assert cache.info().entries == count * (workers + 1) and cache.info().temporary == 0


def test_clear_removes_every_entry_and_leftover(cache):
    cache.put(("k",), {"x": np.zeros(2)})
    (cache.entries_dir / "ab").mkdir(parents=True)
    (cache.entries_dir / "ab" / ".tmp-interrupted").write_bytes(b"half an entry")
    before = cache.clear()
    assert (before.entries, before.temporary) == (1, 1)
    assert cache.info().entries == 0 and cache.get(("k",)) is None
    assert (cache.directory / "CACHEDIR.TAG").is_file()


def test_the_cache_command_shows_and_clears(tmp_path, capsys):
    cache = ReferenceCache(tmp_path / "c")
    cache.put(("k",), {"x": np.zeros(2)})
    assert main(["cache", "info", "--cache-dir", str(tmp_path / "c")]) == 0
    info = entry_files(cache)[0].stat()
    expected = f"{tmp_path / 'c'} holds 1 entries ({info.st_size} bytes, {format_bytes(info.st_blocks * 512)} on disk)\n"
    assert capsys.readouterr().out == expected
    assert main(["cache", "clear", "--cache-dir", str(tmp_path / "c")]) == 0
    assert capsys.readouterr().out.startswith(f"{tmp_path / 'c'} removed 1 entries")
    assert cache.info().entries == 0


# -- the oracle's keys ----------------------------------------------------------------------------
def oracle(cache, *, spec="a" * 64, digits=30) -> Oracle:
    return Oracle(load_spec(SCALAR).model, digits=digits, store=cache, spec=spec)


def test_a_second_oracle_reads_back_what_the_first_computed(cache):
    first = oracle(cache)
    want = first.jacobian(EXAMPLE, "sigmoid", "yhat", "w1")
    values = first.quantities(EXAMPLE, "sigmoid")
    second = oracle(cache)
    assert second.jacobian(EXAMPLE, "sigmoid", "yhat", "w1").tobytes() == want.tobytes()
    assert {k: v.tobytes() for k, v in second.quantities(EXAMPLE, "sigmoid").items()} == {
        k: v.tobytes() for k, v in values.items()
    }
    assert (first.computed, second.computed) == (2, 0)


@pytest.mark.parametrize(
    "change",
    ["spec", "digits", "harness version", "reference code", "activation", "of/wrt", "example bytes"],
)
def test_a_change_of_anything_a_value_depends_on_never_reuses_an_entry(cache, monkeypatch, change):
    oracle(cache).jacobian(EXAMPLE, "sigmoid", "yhat", "w1")
    spec, digits, activation, wrt, example = "a" * 64, 30, "sigmoid", "w1", EXAMPLE
    if change == "spec":
        spec = "b" * 64
    elif change == "digits":
        digits = 31
    elif change == "harness version":
        monkeypatch.setattr(harness.store, "__version__", "999.0")
    elif change == "reference code":
        monkeypatch.setattr(harness.oracle, "REFERENCE_CODE", "0" * 64)
    elif change == "activation":
        activation = "tanh"
    elif change == "of/wrt":
        wrt = "b1"
    else:  # the next float after x
        example = example.replace("x", np.nextafter(np.array(0.5), 1.0))
    again = oracle(cache, spec=spec, digits=digits)
    again.jacobian(example, activation, "yhat", wrt)
    assert again.computed == 1
    assert cache.stats.hits == 0


def test_a_corrupt_entry_is_recomputed_and_rewritten(cache):
    want = oracle(cache).jacobian(EXAMPLE, "sigmoid", "yhat", "w2")
    (path,) = entry_files(cache)
    path.write_bytes(path.read_bytes()[:-1])
    again = oracle(cache)
    assert again.jacobian(EXAMPLE, "sigmoid", "yhat", "w2").tobytes() == want.tobytes()
    assert again.computed == 1 and cache.stats.corrupt == 1
    assert oracle(cache).jacobian(EXAMPLE, "sigmoid", "yhat", "w2").tobytes() == want.tobytes()
    assert cache.stats.hits == 1


def test_the_folder_is_private_and_the_format_versioned(cache):
    cache.put(("k",), {"x": np.zeros(1)})
    assert cache.directory.stat().st_mode & 0o077 == 0
    assert cache.entries_dir.name == f"v{FORMAT}"
    assert entry_files(cache)[0].read_bytes()[:4] == b"HRNC"
