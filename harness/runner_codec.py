"""What travels between the runner and its worker: requests encoded, replies validated and decoded.

A request carries only names (each a Python identifier, so none can name a path or an
attribute chain) and float64 arguments as raw C-order bytes, never expected values. A reply is
a JSON header plus raw float64 bytes; every field is checked against the caps in ``Limits`` and
arrays are rebuilt with ``np.frombuffer``: nothing is unpickled or evaluated, and a malformed
reply is a protocol violation (``harness.runner_transport.violation``) that ends the worker.
"""

from __future__ import annotations

import keyword
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from harness.errors import UsageError
from harness.runner_transport import Limits, escape_text, memory_message, violation

__all__ = [
    "Definition",
    "EncodedBatch",
    "Outcome",
    "check_name",
    "decode_definition",
    "decode_outcome",
    "decode_outcomes",
    "encode_arguments",
    "encode_calls",
    "reply_message",
]

_MAX_MESSAGE = 1000
_MAX_SHAPE_DIMENSIONS = 32


@dataclass(frozen=True)
class Definition:
    """What a submission module defines under a name."""

    status: str  # "function" | "value" | "missing_module" | "module_error" | "missing_name"
    parameters: tuple[str, ...] = ()  # for functions, in order
    has_varargs: bool = False  # *args or **kwargs present
    value: bool | float | tuple | None = None  # for "value": bool, float or nested tuples
    value_type: str = ""  # type name of the value as the worker saw it
    line: int | None = None  # line of the def in the module file
    message: str = ""  # readable reason for module_error, missing_name, ...


@dataclass(frozen=True)
class Outcome:
    """The result of one call of a student function."""

    status: str  # "ok" | "exception" | "timeout" | "crashed" | "memory" | "bad_value" | "output_limit" | "skipped"
    value: np.ndarray | None = None  # float64, when status == "ok"
    message: str = ""
    output: str = ""  # captured stdout/stderr, escaped, truncated


def check_name(kind: str, value: str) -> None:
    """Refuse a module, function or argument name that is not a Python identifier (``UsageError``)."""
    if not isinstance(value, str) or not value.isidentifier() or keyword.iskeyword(value):
        raise UsageError(f"{kind} must be a Python identifier, got {value!r}")


def encode_arguments(arguments: Mapping[str, np.ndarray]) -> tuple[list, bytes]:
    """One call's arguments: ``[name, offset, shape]`` of each, and their float64 bytes.

    An integer array (labels) is sent as float64 too, exactly, marked ``[name, offset, shape,
    "int64"]``: the worker hands it to the student as int64 (a scalar as an int).
    """
    described, chunks, offset = [], [], 0
    for key, value in arguments.items():
        check_name("argument name", key)
        integer = np.issubdtype(np.asarray(value).dtype, np.integer)
        array = np.asarray(value, dtype="<f8")  # 0-d stays 0-d; tobytes() is C order
        described.append([key, offset, list(array.shape)] + (["int64"] if integer else []))
        chunks.append(array.tobytes(order="C"))
        offset += array.nbytes
    return described, b"".join(chunks)


class EncodedBatch(Sequence):
    """The argument mappings of a batch of calls, encoded for the worker once.

    A checker asks every submission the same survey: it encodes it once and hands this to
    ``SubmissionRunner.call_many`` (any other answer reads it as the sequence of mappings it is).
    """

    def __init__(self, batch: Sequence[Mapping[str, np.ndarray]]) -> None:
        self.batch = list(batch)
        self.encoded = [encode_arguments(arguments) for arguments in self.batch]
        self.whole = encode_calls(self.encoded)

    def __getitem__(self, index):  # type: ignore[override]
        return self.batch[index]

    def __len__(self) -> int:
        return len(self.batch)


def encode_calls(encoded: list[tuple[list, bytes]]) -> tuple[list, bytes]:
    """One request's calls (each ``encode_arguments``'s result): their arguments in one payload."""
    calls, payload, offset = [], bytearray(), 0
    for described, data in encoded:
        calls.append([[key, offset + start, *rest] for key, start, *rest in described])
        payload += data
        offset += len(data)
    return calls, bytes(payload)


def reply_message(header: dict) -> str:
    """The reply's message, escaped and cut to a bounded length."""
    message = header.get("message", "")
    if not isinstance(message, str):
        raise violation("a message that is not text")
    return escape_text(message, _MAX_MESSAGE, keep_newlines=False)


def _count(header: dict, limits: Limits) -> int:
    """The number of entries of a validated ``shape`` (at most ``max_result_entries``)."""
    shape = header.get("shape")
    if (
        not isinstance(shape, list)
        or len(shape) > _MAX_SHAPE_DIMENSIONS
        or not all(type(size) is int and 0 <= size <= limits.max_result_entries for size in shape)
    ):
        raise violation(f"an invalid shape {str(shape)[:100]!r}")
    count = math.prod(shape)
    if count > limits.max_result_entries:
        raise violation(f"a result of {count} entries (at most {limits.max_result_entries})")
    return count


def _array(header: dict, payload: bytes, limits: Limits) -> np.ndarray:
    """Rebuild a float64 array from a validated header and payload."""
    count = _count(header, limits)
    if len(payload) != 8 * count:
        raise violation(f"{len(payload)} bytes for shape {tuple(header['shape'])}")
    return np.frombuffer(payload, dtype="<f8").astype(np.float64).reshape(header["shape"])


def decode_outcome(header: dict, payload: bytes, output: str, limits: Limits) -> Outcome:
    """The ``Outcome`` a reply to a call reports, with the output printed during the call."""
    status = header.get("status")
    if status == "ok":
        return Outcome("ok", value=_array(header, payload, limits), output=output)
    if status == "memory":
        return Outcome("memory", message=memory_message(limits), output=output)
    if status in ("exception", "bad_value"):
        return Outcome(status, message=reply_message(header), output=output)
    raise violation(f"an unknown call status {status!r}")


def decode_outcomes(header: dict, payload: bytes, outputs: list[str], calls: int, limits: Limits) -> list[Outcome]:
    """The ``Outcome`` of each call a batch reply reports (``results``), with the output of each.

    A reply must account for every call of the batch, or stop right after a ``memory`` result;
    the values must fill the payload exactly. Anything else is a protocol violation.
    """
    results = header.get("results")
    if not isinstance(results, list) or not 0 < len(results) <= calls:
        raise violation(f"a batch reply without a result per call ({calls} calls)")
    counts: dict[tuple, int] = {}  # each distinct shape validated once
    outcomes, offset = [], 0
    # One copy of the payload (frombuffer alone is read-only); each value is a view of it.
    values = np.frombuffer(payload, dtype="<f8").astype(np.float64) if len(payload) % 8 == 0 else None
    for number, result in enumerate(results):
        if not isinstance(result, list) or len(result) != 2:
            raise violation(f"a result that is not [status, shape or message]: {str(result)[:100]!r}")
        status, detail = result
        output = outputs[number] if number < len(outputs) else ""
        if status == "ok":
            shape = tuple(detail) if isinstance(detail, list) and all(type(n) is int for n in detail) else None
            count = counts.get(shape) if shape is not None else None
            if count is None:
                count = counts[shape] = _count({"shape": detail}, limits)
            if values is None or 8 * (offset + count) > len(payload):
                raise violation(f"{len(payload)} bytes of values for results that need more")
            value = values[offset : offset + count].reshape(shape)
            offset += count
            outcomes.append(Outcome("ok", value=value, output=output))
        else:
            outcomes.append(decode_outcome({"status": status, "message": detail}, b"", output, limits))
    if len(results) < calls and outcomes[-1].status != "memory":
        raise violation(f"a batch reply with {len(results)} results for {calls} calls")
    if 8 * offset != len(payload):
        raise violation(f"{len(payload)} bytes of values for results that need {8 * offset}")
    return outcomes


def decode_definition(header: dict, payload: bytes, limits: Limits) -> Definition:
    """The ``Definition`` a reply to an inspect request reports."""
    status = header.get("status")
    line = header.get("line")
    line = line if type(line) is int and line > 0 else None
    if status == "function":
        parameters = header.get("parameters")
        if not isinstance(parameters, list) or not all(isinstance(p, str) for p in parameters):
            raise violation("parameters that are not a list of names")
        return Definition(
            "function",
            parameters=tuple(escape_text(p, 200, keep_newlines=False) for p in parameters),
            has_varargs=header.get("has_varargs") is True,
            line=line,
            message=reply_message(header),
        )
    if status == "value":
        kind = header.get("value_kind")
        value_type = escape_text(str(header.get("value_type", "")), 100, keep_newlines=False)
        if kind == "bool":
            if type(header.get("value")) is not bool:
                raise violation("a bool value that is not a bool")
            value = header["value"]
        elif kind == "array":
            array = _array(header, payload, limits)
            value = float(array) if array.ndim == 0 else _nested_tuple(array.tolist())
        else:
            value = None
        return Definition("value", value=value, value_type=value_type)
    if status in ("module_error", "missing_name"):
        return Definition(status, message=reply_message(header))
    if status == "memory":
        return Definition("module_error", message=memory_message(limits))
    raise violation(f"an unknown inspect status {status!r}")


def _nested_tuple(value: object) -> object:
    return tuple(_nested_tuple(item) for item in value) if isinstance(value, list) else value
