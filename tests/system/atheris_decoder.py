"""Coverage-guided fuzzing of the wire decoder with atheris (libFuzzer), run by test_atheris.py.

Each input is one message: the bytes up to the first 0xFE 0xFE marker are frame 0, the rest
frame 1 (so the fuzzer can reach the extra-frame code). `decode` may refuse an input only with
a ProtocolError; any other exception is a crash that atheris reports with the input.
"""

from __future__ import annotations

import contextlib
import sys

import atheris

with atheris.instrument_imports():
    from supersonic.protocol.codec import ProtocolError, decode


def one_input(data: bytes) -> None:
    frames = data.split(b"\xfe\xfe", 1)
    with contextlib.suppress(ProtocolError):  # a refusal; anything else is a crash
        decode(frames)


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
