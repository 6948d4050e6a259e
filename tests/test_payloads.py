"""The protocol's one payload table (boards/protocol.py: REQUESTS, REPLIES): packing and
unpacking are each other's inverse, wrong lengths and values are refused, the sizes the
gateware and the host derive from it are the protocol's, and docs/protocol.md shows it."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from ghostfpga.boards.gateware.commands import at, size
from ghostfpga.boards.payload import REST, U8, U16, Field, Payload, PayloadError
from ghostfpga.boards.protocol import (HEADER_BYTES, IDENTITY, REPLIES, REQUESTS, Command,
                                       Identity, LinkLayout, command_table)
from ghostfpga.config import Config, Link

CONFIG = Config(layers=(4, 6, 3), link=Link(store_samples=16))
LAYOUT = LinkLayout(CONFIG)
DOCS = Path(__file__).parent.parent / "docs" / "protocol.md"


def _sample(rng):
    return (rng.integers(0, 257, 4), int(rng.integers(0, 3)))


def _examples():
    """One request and one reply of every command, by field."""
    rng = np.random.default_rng(0)
    samples = [_sample(rng) for _ in range(3)]
    results = [(1, (5, 6, 7)), (0, (256, 0, 1)), (2, (3, 2, 1))]
    return {
        Command.IDENTIFY: ({}, None),
        Command.WRITE: (dict(lane=1, word=300, values=(-5, 7, 32767, -32768)), {}),
        Command.READ: (dict(lane=0, word=2, count=3), dict(values=(1, -1, 9))),
        Command.COMMIT: (dict(crc=0xBEEF), dict(device_crc=0x1234)),
        Command.RATES: (dict(eta=(100, 200)), {}),
        Command.TRAIN: (dict(count=3, samples=samples), dict(results=results)),
        Command.INFER: (dict(count=3, samples=samples), dict(results=results)),
        Command.COUNTERS: ({}, dict(cycles=2**32 - 1, samples=7, counters=tuple(range(16)))),
        Command.RESET: ({}, {}),
        Command.STORE: (dict(index=12, count=3, samples=samples), {}),
        Command.EPOCH: (dict(n=12, start=3, step=5, eta=(1, 2)), dict(correct=11)),
    }


def _plain(v):
    """Values as nested tuples of ints (a record's fields in order)."""
    if isinstance(v, SimpleNamespace):
        v = tuple(vars(v).values())
    if isinstance(v, (list, tuple, np.ndarray)):
        return tuple(_plain(item) for item in v)
    return int(v)


@pytest.mark.parametrize("command", list(Command), ids=lambda c: c.name)
def test_every_payload_unpacks_to_what_was_packed(command):
    request, reply = _examples()[command]
    for payload, fields in ((REQUESTS[command], request), (REPLIES[command], reply)):
        if fields is None:
            continue
        data = payload.pack(LAYOUT, **fields)
        back = payload.unpack(data, LAYOUT)
        for name, value in fields.items():
            assert _plain(getattr(back, name)) == _plain(value), (command.name, name)
        with pytest.raises(PayloadError):
            payload.unpack(data + b"\x00", LAYOUT)          # a byte too many never fits
        if data:
            with pytest.raises(PayloadError):
                payload.unpack(data[:-1], LAYOUT)


def test_the_sizes_are_the_protocols():
    # the bytes every request takes, as docs/protocol.md gives them for a 4-6-3 config
    assert LAYOUT.sample_bytes == 2 * 4 + 1 and LAYOUT.result_bytes == 1 + 2 * 3
    assert size(Command.READ) == 4 and size(Command.COMMIT) == 2
    assert size(Command.RATES, LAYOUT) == 2 * 2 and size(Command.EPOCH, LAYOUT) == 6 + 2 * 2
    assert size(Command.IDENTIFY) == size(Command.COUNTERS) == size(Command.RESET) == 0
    assert at(Command.TRAIN, "samples") == HEADER_BYTES + 1
    assert at(Command.STORE, "samples") == HEADER_BYTES + 3
    assert at(Command.EPOCH, "eta") == HEADER_BYTES + 6
    assert REQUESTS[Command.TRAIN].size(LAYOUT, samples=3) == 1 + 3 * 9
    # what the framer's slot holds: the most samples, values and words per frame
    room = LAYOUT.slot_bytes - 6
    assert LAYOUT.max_samples == min((room - 1) // 9, (room - 1) // 7, 255)
    assert LAYOUT.max_write == (room - 3) // 2 and LAYOUT.max_read == (room - 1) // 2
    assert LAYOUT.max_store == (room - 3) // 9


def test_values_that_do_not_fit_their_width_are_refused_by_name():
    write = REQUESTS[Command.WRITE]
    with pytest.raises(PayloadError, match="'values': 40000 does not fit i16"):
        write.pack(LAYOUT, lane=0, word=0, values=[40000])
    with pytest.raises(PayloadError, match="'lane': 256 does not fit u8"):
        write.pack(LAYOUT, lane=256, word=0, values=[1])
    with pytest.raises(PayloadError, match="at least one value"):
        write.pack(LAYOUT, lane=0, word=0, values=[])
    with pytest.raises(PayloadError, match="missing"):
        write.pack(LAYOUT, lane=0, values=[1])
    with pytest.raises(PayloadError, match="takes 2 values, not 3"):
        REQUESTS[Command.RATES].pack(LAYOUT, eta=[1, 2, 3])
    with pytest.raises(PayloadError, match="a sample has 2 fields"):
        REQUESTS[Command.TRAIN].pack(LAYOUT, count=1, samples=[([0] * 4,)])
    with pytest.raises(PayloadError, match="takes 2 values, not 1"):   # count says 2
        REQUESTS[Command.TRAIN].pack(LAYOUT, count=2, samples=[([0] * 4, 0)])


def test_a_field_after_one_of_varying_size_has_no_offset():
    p = Payload((Field("n", U8), Field("xs", U16, "n"), Field("tail", U8)))
    with pytest.raises(PayloadError, match="whose size varies"):
        p.offset("tail")
    with pytest.raises(PayloadError, match="give its count"):
        p.size()
    assert p.size(xs=2) == 1 + 4 + 1
    assert p.unpack(p.pack(n=2, xs=[1, 2], tail=3)).xs == (1, 2)
    rest = Payload((Field("xs", U16, REST),))
    with pytest.raises(PayloadError, match="do not fit"):
        rest.unpack(b"\x01\x02\x03")


def test_the_identity_reply_round_trips_and_a_short_one_is_refused():
    ident = Identity.of(CONFIG, depth=40)
    assert Identity.unpack(ident.pack()) == ident
    with pytest.raises(ValueError, match="does not fit its layout"):
        Identity.unpack(ident.pack()[:-1])


def test_the_docs_show_the_table():
    """docs/protocol.md's command table and identity layout are the table's own words."""
    text = " ".join(DOCS.read_text().split())
    assert " ".join(command_table().split()) in text, \
        "docs/protocol.md: paste boards.protocol.command_table() over the command table"
    assert " ".join(IDENTITY.describe().split()) in text
