"""How drawn inputs and claims' evidence are written to a store: float64 arrays plus JSON, exactly.

Numbers travel as float64 arrays (bit-exact), names, sizes, text and flags as JSON metadata.
A decoder gives ``None`` for anything that does not fit, which the store treats as a miss.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from harness.results import ClaimEvidence, as_value
from harness.store import Codec
from harness.example import Example


def encode_examples(drawn: list[Example]) -> tuple[dict[str, np.ndarray], object]:
    arrays = {f"{index}/{name}": value for index, example in enumerate(drawn) for name, value in example.values}
    meta = [{"sizes": [[name, size] for name, size in e.sizes], "names": [n for n, _ in e.values]} for e in drawn]
    return arrays, meta


def decode_examples(arrays: dict[str, np.ndarray], meta: object) -> list[Example] | None:
    try:
        return [
            Example(
                sizes=tuple((str(name), int(size)) for name, size in described["sizes"]),
                values=tuple((name, arrays[f"{index}/{name}"]) for name in described["names"]),
            )
            for index, described in enumerate(meta)
        ]
    except (KeyError, TypeError, ValueError):
        return None


EXAMPLES: Codec[list[Example]] = Codec(encode_examples, decode_examples)

Survey = tuple[list[dict[str, np.ndarray]], list[np.ndarray]]
"""An item's survey as every submission is asked it: each input's arguments, and the true values."""


def encode_survey(survey: Survey) -> tuple[dict[str, np.ndarray], object]:
    calls, wants = survey
    arrays = {f"{index}/=want": np.asarray(want, dtype=np.float64) for index, want in enumerate(wants)}
    integers = []
    for index, arguments in enumerate(calls):
        integers.append(sorted(name for name, value in arguments.items() if value.dtype.kind in "iu"))
        arrays.update({f"{index}/{name}": np.asarray(value, dtype=np.float64) for name, value in arguments.items()})
    return arrays, {"names": [list(arguments) for arguments in calls], "integers": integers}


def decode_survey(arrays: dict[str, np.ndarray], meta: object) -> Survey | None:
    try:
        calls = [
            {name: arrays[f"{index}/{name}"].astype(np.int64 if name in integers else np.float64)
             for name in names}
            for index, (names, integers) in enumerate(zip(meta["names"], meta["integers"]))
        ]
        wants = [arrays[f"{index}/=want"] for index in range(len(calls))]
    except (KeyError, TypeError, ValueError):
        return None
    return calls, wants


SURVEY: Codec[Survey] = Codec(encode_survey, decode_survey)

_EVIDENCE_TEXT = ("statement", "truth", "changed_variable", "activation", "examples")
_EVIDENCE_INPUTS = ("first_inputs", "second_inputs")
_EVIDENCE_VALUES = ("first_value", "second_value")
if {field.name for field in dataclasses.fields(ClaimEvidence)} != {*_EVIDENCE_TEXT, *_EVIDENCE_INPUTS, *_EVIDENCE_VALUES}:
    raise ImportError("harness.codecs does not know every field of ClaimEvidence: update its tables")


def _encode_evidence(evidence: ClaimEvidence) -> tuple[dict[str, np.ndarray], object]:
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, object] = {name: getattr(evidence, name) for name in _EVIDENCE_TEXT}
    for name in _EVIDENCE_INPUTS:
        meta[name] = [variable for variable, _ in getattr(evidence, name)]
        for variable, value in getattr(evidence, name):
            arrays[f"{name}/{variable}"] = np.asarray(value, dtype=np.float64)
    for name in _EVIDENCE_VALUES:
        arrays[name] = np.asarray(getattr(evidence, name), dtype=np.float64)
    return arrays, meta


def _decode_evidence(arrays: dict[str, np.ndarray], meta: object) -> ClaimEvidence | None:
    try:
        fields = {name: meta[name] for name in _EVIDENCE_TEXT}
        for name in _EVIDENCE_INPUTS:
            fields[name] = tuple((variable, as_value(arrays[f"{name}/{variable}"])) for variable in meta[name])
        for name in _EVIDENCE_VALUES:
            fields[name] = as_value(arrays[name])
        return ClaimEvidence(**fields)
    except (KeyError, TypeError, ValueError):
        return None


EVIDENCE: Codec[ClaimEvidence] = Codec(_encode_evidence, _decode_evidence)
