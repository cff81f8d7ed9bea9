#!/usr/bin/env python3
"""Writes gRPC request bodies (the 5-byte frame header + protobuf) for h2load.

  body.py check INSURER INSURED > check.bin
  body.py batch INSURER FIRST COUNT > batch.bin

Hand-encoded protobuf, so no protoc is needed: CheckEligibilityRequest {1: insurer, 2: insured};
BatchCheckEligibilityRequest {1: repeated EligibilityQuery {1: insurer, 2: insured}}.
"""
import struct
import sys


def field(number: int, payload: bytes) -> bytes:
    tag = (number << 3) | 2
    length = len(payload)
    out = bytes([tag])
    while True:
        byte = length & 0x7F
        length >>= 7
        if length:
            out += bytes([byte | 0x80])
        else:
            out += bytes([byte])
            return out + payload


def query(insurer: str, insured: str) -> bytes:
    return field(1, insurer.encode()) + field(2, insured.encode())


def frame(message: bytes) -> bytes:
    return b"\0" + struct.pack(">I", len(message)) + message


def main() -> None:
    kind = sys.argv[1]
    if kind == "check":
        message = query(sys.argv[2], sys.argv[3])
    elif kind == "batch":
        insurer, first, count = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        message = b"".join(field(1, query(insurer, f"{n:010d}")) for n in range(first, first + count))
    else:
        raise SystemExit(f"unknown body kind {kind}")
    sys.stdout.buffer.write(frame(message))


if __name__ == "__main__":
    main()
