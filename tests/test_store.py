"""Stores and the memory in front of them: what a run remembers, failures included."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import numpy as np
import pytest

from harness.errors import InternalError, UsageError
from harness.store import Codec, Memory, MemoryStore, run_store

ARRAY = Codec(lambda value: ({"value": value}, None), lambda arrays, meta: arrays.get("value"))


def counting(result):
    calls = []

    def compute():
        calls.append(1)
        if isinstance(result, Exception):
            raise result
        return result

    return compute, calls


def test_a_value_is_computed_once_and_read_back_by_another_memory_on_the_same_store():
    store = MemoryStore()
    compute, calls = counting(np.array([1.0, 2.0]))
    first = Memory(store, ("test",), "code")
    assert first.remember(("k",), compute, ARRAY).tolist() == [1.0, 2.0]
    assert first.remember(("k",), compute, ARRAY).tolist() == [1.0, 2.0]
    second = Memory(store, ("test",), "code")
    assert second.remember(("k",), compute, ARRAY).tolist() == [1.0, 2.0]
    assert (len(calls), first.computed, second.computed) == (1, 1, 0)


@pytest.mark.parametrize("other", [("other scope",), "other code"])
def test_another_scope_or_code_never_reads_an_entry(other):
    store = MemoryStore()
    Memory(store, ("test",), "code").remember(("k",), counting(np.zeros(1))[0], ARRAY)
    scope, code = (other, "code") if isinstance(other, tuple) else (("test",), other)
    again = Memory(store, scope, code)
    again.remember(("k",), counting(np.zeros(1))[0], ARRAY)
    assert again.computed == 1


def test_an_internal_error_is_remembered_and_raised_again_without_recomputing():
    store = MemoryStore()
    compute, calls = counting(InternalError("the reference does not converge at x = 0"))
    for memory in (Memory(store, ("test",), "code"), Memory(store, ("test",), "code")):
        for _ in range(2):
            with pytest.raises(InternalError, match="^the reference does not converge at x = 0$"):
                memory.remember(("k",), compute, ARRAY)
    assert len(calls) == 1


def test_any_other_error_is_not_remembered():
    compute, calls = counting(ZeroDivisionError("a bug"))
    memory = Memory(MemoryStore(), ("test",), "code")
    for _ in range(2):
        with pytest.raises(ZeroDivisionError):
            memory.remember(("k",), compute, ARRAY)
    assert len(calls) == 2


def test_the_memory_store_hands_out_read_only_copies():
    store = MemoryStore()
    value = np.array([1.0])
    store.put(("k",), {"value": value})
    value[0] = 5.0
    arrays, _ = store.get(("k",))
    assert arrays["value"].tolist() == [1.0] and not arrays["value"].flags.writeable


def test_a_cache_folder_the_sandbox_shows_to_submissions_is_refused():
    inside = Path(sysconfig.get_path("purelib")) / "harness-cache"
    with pytest.raises(UsageError, match="which the sandbox shows to submissions"):
        with run_store(inside, 1):
            pass
    assert not inside.exists()


def test_without_a_persistent_cache_one_process_uses_memory_and_several_a_temporary_folder():
    with run_store(None, 1) as alone:
        assert isinstance(alone, MemoryStore)
    with run_store(None, 2) as shared:
        folder = shared.directory
        assert folder.is_dir()
    assert not folder.exists()
