"""Device strings: parse, merge and print them as TensorFlow's ``DeviceSpec`` does.

``"/cpu:0"``, ``"cpu:0"`` and ``"/device:CPU:0"`` all print as ``"/device:CPU:0"``;
a full spec prints as ``/job:J/replica:R/task:T/device:TYPE:ID``. Merging an inner
spec over an outer one keeps the outer's fields the inner leaves unset (nested
``tf.device`` blocks).
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class DeviceSpec:
    job: str | None = None
    replica: int | None = None
    task: int | None = None
    device_type: str | None = None
    device_index: int | None = None  # None with a type means "*"

    @classmethod
    def from_string(cls, spec: str) -> "DeviceSpec":
        job = replica = task = dtype = index = None
        for part in (p for p in (spec or "").split("/") if p):
            fields = part.split(":")
            key = fields[0].lower()
            if key == "job" and len(fields) == 2:
                job = fields[1]
            elif key == "replica" and len(fields) == 2:
                replica = int(fields[1])
            elif key == "task" and len(fields) == 2:
                task = int(fields[1])
            elif key == "device" and len(fields) in (2, 3):
                dtype = fields[1].upper() if fields[1].lower() in ("cpu", "gpu") else fields[1]
                if len(fields) == 3 and fields[2] != "*":
                    index = int(fields[2])
            elif len(fields) in (1, 2) and key in ("cpu", "gpu", "tpu") or (
                    len(fields) == 2 and fields[0].isupper()):
                dtype = fields[0].upper()
                if len(fields) == 2 and fields[1] != "*":
                    index = int(fields[1])
            else:
                raise ValueError(f"Unknown attribute: '{part}' in '{spec}'")
        return cls(job, replica, task, dtype, index)

    def merge_from(self, outer: "DeviceSpec") -> "DeviceSpec":
        """This spec with unset fields taken from ``outer``."""
        return replace(
            self, job=self.job if self.job is not None else outer.job,
            replica=self.replica if self.replica is not None else outer.replica,
            task=self.task if self.task is not None else outer.task,
            device_type=self.device_type if self.device_type is not None else outer.device_type,
            device_index=self.device_index if self.device_type is not None else outer.device_index)

    def to_string(self) -> str:
        out = ""
        if self.job is not None:
            out += f"/job:{self.job}"
        if self.replica is not None:
            out += f"/replica:{self.replica}"
        if self.task is not None:
            out += f"/task:{self.task}"
        if self.device_type is not None:
            idx = "*" if self.device_index is None else str(self.device_index)
            out += f"/device:{self.device_type}:{idx}"
        return out


def canonical(spec: str | None) -> str:
    """TensorFlow's canonical spelling of a device string ("" stays "")."""
    if not spec:
        return ""
    return DeviceSpec.from_string(spec).to_string()


def merge(inner: str, outer: str) -> str:
    if not outer:
        return canonical(inner)
    if not inner:
        return canonical(outer)
    return DeviceSpec.from_string(inner).merge_from(DeviceSpec.from_string(outer)).to_string()
