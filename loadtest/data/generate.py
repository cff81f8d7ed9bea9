#!/usr/bin/env python3
"""Writes the synthetic key arrays in this folder (run from anywhere; output is deterministic).

Numbers follow `kaigo gen insured`: 保険者番号 435073 (水上村, the demo insurer) and
被保険者番号 0000000001, 0000000002, ... `kaigo dev` seeds persons 1..100 under 435073,
122192, 122069 and 212019; higher numbers are unknown there (a NOT_INSURED verdict, not an
error) and exist in an environment loaded with `kaigo gen insured --count N | kaigo import`.
No personal data: keys only.
"""

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
INSURER = "435073"


def insured(n: int) -> str:
    return f"{n:010d}"


def query(n: int) -> dict:
    return {"insurer_number": INSURER, "insured_number": insured(n)}


def write(name: str, entries: list) -> None:
    # One request per line: small files, readable diffs.
    lines = ",\n".join(json.dumps(e, separators=(",", ":")) for e in entries)
    (HERE / name).write_text("[\n" + lines + "\n]\n")


def main() -> None:
    rng = random.Random(20261129)
    # Hot: the same few persons again and again (a facility checking its residents).
    write("eligibility-hot.json", [query(n) for n in range(1, 6)])
    # Cold: 2,000 distinct persons, each asked once per pass (a month-end sweep).
    write("eligibility-cold.json", [query(n) for n in range(1, 2001)])
    # Mix: Zipf-like popularity over 20,000 persons, the shape of real front-desk traffic:
    # a few persons dominate, a long tail is asked once. 2,000 requests per pass.
    weights = [1.0 / (rank ** 1.1) for rank in range(1, 20001)]
    picks = rng.choices(range(1, 20001), weights=weights, k=2000)
    write("eligibility-mix.json", [query(n) for n in picks])
    # Batches: distinct persons per batch, consecutive batches move on through the numbers.
    write("eligibility-batch-100.json", [{"queries": [query(b * 100 + i) for i in range(1, 101)]} for b in range(20)])
    write("eligibility-batch-1000.json", [{"queries": [query(b * 1000 + i) for i in range(1, 1001)]} for b in range(4)])


if __name__ == "__main__":
    main()
