"""A payload's layout as data: its fields in order, each a scalar of a fixed width or a record,
once or repeated. The host link's table (boards/protocol.py: ``REQUESTS``, ``REPLIES``) is
written with it once, and everything else is derived from that table: the host's packing and
unpacking, the reference executor's, the gateware's sizes and byte offsets, and the command
table of docs/protocol.md.

Every number is little-endian. A count is one of: ``None`` (one value), an ``int`` (that many),
``REST`` (as many as the payload's remaining bytes hold, at least one), the name of an earlier
field of the same payload (its value), or the name of a size of the link's layout
(``LinkLayout.n_inputs``, ``n_outputs``, ``n_layers``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Mapping

__all__ = ["Scalar", "U8", "U16", "I16", "U32", "REST", "Field", "Record", "Payload",
           "PayloadError"]

REST = "rest"

# how docs/protocol.md writes a layout's size
_SIZE_WORDS = {"n_inputs": "n_0", "n_outputs": "n_L", "n_layers": "L"}


class PayloadError(ValueError):
    """A payload's bytes or values do not fit its layout."""


@dataclass(frozen=True)
class Scalar:
    name: str      # as the docs write it: u8, u16, i16, u32
    code: str      # the struct code

    @property
    def size(self) -> int:
        return struct.calcsize("<" + self.code)

    @property
    def signed(self) -> bool:
        return self.code.islower()

    def fits(self, v: int) -> bool:
        bits = 8 * self.size
        lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if self.signed else (0, 1 << bits)
        return lo <= v < hi


U8, U16, I16, U32 = Scalar("u8", "B"), Scalar("u16", "H"), Scalar("i16", "h"), Scalar("u32", "I")


@dataclass(frozen=True)
class Field:
    name: str
    kind: Scalar | Record
    count: int | str | None = None
    doc: str | None = None    # the count as the docs write it, where REST does not say it

    def items(self, layout, known: Mapping[str, Any]) -> int | None:
        """How many values the field holds: None for REST (the payload's length decides)."""
        if self.count is None:
            return 1
        if isinstance(self.count, int):
            return self.count
        if self.count == REST:
            return None
        if self.count in known:
            return int(known[self.count])
        return int(getattr(layout, self.count))

    def describe(self) -> str:
        """The field as docs/protocol.md writes it: ``lane u8``, ``values i16 x n (n >= 1)``,
        ``samples x count``, ``eta u16 per weight layer``."""
        kind = "" if isinstance(self.kind, Record) else f" {self.kind.name}"
        if self.count is None:
            return f"{self.name}{kind}"
        if self.count == "n_layers":
            return f"{self.name}{kind} per weight layer"
        times = self.doc or {REST: "n (n >= 1)"}.get(self.count,
                                                     _SIZE_WORDS.get(self.count, self.count))
        return f"{self.name}{kind} x {times}"


@dataclass(frozen=True)
class Record:
    """A group of fields repeated as one item (a sample, a result)."""
    name: str
    fields: tuple[Field, ...]

    def size(self, layout) -> int:
        return Payload(self.fields).size(layout)

    def describe(self) -> str:
        return Payload(self.fields).describe()


@dataclass(frozen=True)
class Payload:
    """The fields of one payload, in order."""
    fields: tuple[Field, ...] = ()

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"no field {name!r} in {self.describe() or 'an empty payload'}")

    def offset(self, name: str, layout=None) -> int:
        """The byte where field ``name`` starts: every field before it has a fixed size."""
        at = 0
        for f in self.fields:
            if f.name == name:
                return at
            n = self._fixed_items(f, layout)
            if n is None:
                raise PayloadError(f"field {name!r} follows {f.name!r}, whose size varies")
            at += n * _item_bytes(f, layout)
        raise KeyError(f"no field {name!r} in {self.describe()}")

    def item_bytes(self, name: str, layout=None) -> int:
        """The bytes of one item of field ``name``."""
        return _item_bytes(self.field(name), layout)

    def size(self, layout=None, **counts: int) -> int:
        """The payload's bytes, with the counts of fields counted by an earlier field or by
        REST given by name (``size(layout, samples=3)``)."""
        total = 0
        for f in self.fields:
            n = counts[f.name] if f.name in counts else self._fixed_items(f, layout)
            if n is None:
                raise PayloadError(f"the size of {f.name!r} varies: give its count")
            total += n * _item_bytes(f, layout)
        return total

    def _names(self) -> set[str]:
        return {f.name for f in self.fields}

    def _fixed_items(self, f: Field, layout) -> int | None:
        """The items of ``f`` when the layout alone decides them, else None."""
        if f.count == REST or (isinstance(f.count, str) and f.count in self._names()):
            return None
        return f.items(layout, {})

    def pack(self, layout=None, **values) -> bytes:
        """The payload's bytes from a value per field (a sequence for a repeated field; a
        record's items as sequences or mappings in its field order)."""
        missing = self._names() - set(values)
        extra = set(values) - self._names()
        if missing or extra:
            raise PayloadError(f"payload {self.describe()}: "
                               + (f"missing {sorted(missing)}" if missing else "")
                               + (f"unknown {sorted(extra)}" if extra else ""))
        out = bytearray()
        for f in self.fields:
            v = values[f.name]
            n = f.items(layout, values)
            if f.count is None:
                v = [v]
            else:
                v = list(v)
                if (n is not None and len(v) != n) or (n is None and not v):
                    raise PayloadError(f"field {f.name!r} takes "
                                       f"{'at least one value' if n is None else n} "
                                       f"values, not {len(v)}")
            if isinstance(f.kind, Record):
                for item in v:
                    out += _pack_record(f.kind, item, layout)
            else:
                out += _pack_scalars(f, v)
        return bytes(out)

    def unpack(self, data: bytes, layout=None) -> SimpleNamespace:
        """The fields of ``data`` by name (a tuple for a repeated scalar, a list of
        namespaces for repeated records); PayloadError when the length does not fit."""
        values, at = {}, 0
        data = bytes(data)
        for f in self.fields:
            size = _item_bytes(f, layout)
            n = f.items(layout, values)
            if n is None:
                n, left = divmod(len(data) - at, size)
                if n < 1 or left:
                    raise PayloadError(f"{len(data)} bytes do not fit {self.describe()}")
            if at + n * size > len(data):
                raise PayloadError(f"{len(data)} bytes are too few for {self.describe()}")
            items = [_unpack_item(f, data, at + k * size, layout) for k in range(n)] \
                if isinstance(f.kind, Record) else \
                list(struct.unpack_from(f"<{n}{f.kind.code}", data, at))
            values[f.name] = items[0] if f.count is None else (
                items if isinstance(f.kind, Record) else tuple(items))
            at += n * size
        if at != len(data):
            raise PayloadError(f"{len(data)} bytes do not fit {self.describe()} "
                               f"({at} expected)")
        return SimpleNamespace(**values)

    def unpack_head(self, data: bytes, layout=None) -> SimpleNamespace:
        """The fixed-size fields at the payload's start (up to the first whose size varies),
        or PayloadError when ``data`` is shorter than they are."""
        head = []
        for f in self.fields:
            if self._fixed_items(f, layout) is None:
                break
            head.append(f)
        first = Payload(tuple(head))
        size = first.size(layout)
        if len(data) < size:
            raise PayloadError(f"{len(data)} bytes are too few for {first.describe()}")
        return first.unpack(bytes(data[:size]), layout)

    def describe(self) -> str:
        return ", ".join(f.describe() for f in self.fields) or "-"


def _item_bytes(f: Field, layout) -> int:
    return f.kind.size(layout) if isinstance(f.kind, Record) else f.kind.size


def _pack_record(record: Record, item, layout) -> bytes:
    fields = record.fields
    if not isinstance(item, Mapping):
        item = list(item)
        if len(item) != len(fields):
            raise PayloadError(f"a {record.name} has {len(fields)} fields "
                               f"({record.describe()}), not {len(item)}")
        item = dict(zip((g.name for g in fields), item))
    return Payload(fields).pack(layout, **item)


def _pack_scalars(f: Field, values) -> bytes:
    values = [int(v) for v in values]
    for v in values:
        if not f.kind.fits(v):
            raise PayloadError(f"field {f.name!r}: {v} does not fit {f.kind.name}")
    return struct.pack(f"<{len(values)}{f.kind.code}", *values)


def _unpack_item(f: Field, data: bytes, at: int, layout) -> SimpleNamespace:
    size = f.kind.size(layout)
    return Payload(f.kind.fields).unpack(data[at:at + size], layout)

