#!/usr/bin/env python3
"""Call files for `kaigo bench --data-lines` over a population spread across several insurers.

  keys.py insurers PERSONS                         > insurers.tsv   (insurer number, persons)
  keys.py check INSURERS.tsv zipf|uniform CALLS SEED TEMPLATE [LIMIT] > calls.jsonl
  keys.py batch INSURERS.tsv SIZE TEMPLATE         > batches.jsonl  (every person once)

Persons are numbered as `kaigo gen insured --first 1` numbers them: insured numbers 1..n of
each insurer, zero-padded to ten digits. A check picks a person over all PERSONS (or the first
LIMIT of them): `zipf` draws a popularity rank with P(k) proportional to 1/k (s = 1, exact, by
Hörmann's rejection-inversion) and maps ranks to persons by a fixed permutation, so the popular
persons are spread over every insurer; `uniform` draws every person alike.

TEMPLATE is the line's metadata as JSON with INSURER where the insurer number goes, e.g.
'{"authorization": "Bearer ${TOKEN_INSURER}"}': `kaigo bench` fills ${...} from the
environment, so the file holds no token. Streams: memory stays flat for any CALLS.
"""
import json
import math
import random
import sys
from bisect import bisect_right

# Insurers sized like Japan's spread of 第1号被保険者 (a designated city, core cities, towns and
# a village: the national distribution is long-tailed). Six-digit 保険者番号 made of a
# prefecture and municipality part and a valid modulus-10 check digit; synthetic.
SHARES = [
    ("14100", 0.20),
    ("27100", 0.15),
    ("01100", 0.12),
    ("40130", 0.10),
    ("22130", 0.09),
    ("33100", 0.08),
    ("43507", 0.07),
    ("12219", 0.06),
    ("12206", 0.05),
    ("21201", 0.04),
    ("46201", 0.03),
    ("03366", 0.01),
]


def check_digit(payload: str) -> str:
    """The modulus-10 weight-2-1 check digit (docs/domain/identifiers.md#check-digit)."""
    total = 0
    for i, c in enumerate(reversed(payload)):
        product = int(c) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return str((10 - total % 10) % 10)


def insurers(persons: int) -> list:
    counts = [int(persons * share) for _, share in SHARES]
    counts[0] += persons - sum(counts)
    return [(code + check_digit(code), n) for (code, _), n in zip(SHARES, counts) if n > 0]


def read_insurers(path: str) -> list:
    with open(path) as f:
        return [(line.split()[0], int(line.split()[1])) for line in f if line.strip()]


class Zipf:
    """Ranks 1..n with P(k) ~ 1/k: rejection-inversion (Hörmann & Derflinger 1996), s = 1."""

    def __init__(self, n: int, rng: random.Random):
        self.n, self.rng = n, rng
        self.h_x1 = math.log(1.5) - 1.0
        self.h_n = math.log(n + 0.5)
        self.s = 2.0 - math.exp(math.log(2.5) - 0.5)

    def sample(self) -> int:
        while True:
            u = self.h_n + self.rng.random() * (self.h_x1 - self.h_n)
            x = math.exp(u)
            k = min(max(int(x + 0.5), 1), self.n)
            if k - x <= self.s or u >= math.log(k + 0.5) - 1.0 / k:
                return k


def permutation_step(n: int) -> int:
    """A multiplier coprime to n: rank r goes to person (r * step) mod n, a bijection."""
    step = 2654435761 % n or 1
    while math.gcd(step, n) != 1:
        step += 1
    return step


def line(data: dict, template: str, insurer: str) -> str:
    metadata = template.replace("INSURER", insurer)
    return '{"data": %s, "metadata": %s}' % (json.dumps(data, separators=(",", ":")), metadata)


def check(spec: list, distribution: str, calls: int, seed: int, template: str, limit: int) -> None:
    total = sum(n for _, n in spec)
    population = min(limit, total) if limit else total
    rng = random.Random(seed)
    zipf = Zipf(population, rng) if distribution == "zipf" else None
    step = permutation_step(population)
    # With LIMIT, the persons drawn from are taken from every insurer in proportion.
    order = spread(spec, population)
    out = sys.stdout
    for _ in range(calls):
        if zipf:
            person = ((zipf.sample() - 1) * step) % population
        else:
            person = rng.randrange(population)
        which, number = order(person)
        insurer = spec[which][0]
        out.write(line({"insurer_number": insurer, "insured_number": "%010d" % number}, template, insurer))
        out.write("\n")


def spread(spec: list, population: int):
    """Person index -> (insurer index, insured number): all persons when population is the
    total, else population persons taken from every insurer in proportion to its size."""
    total = sum(n for _, n in spec)
    if population >= total:
        starts, acc = [], 0
        for _, n in spec:
            starts.append(acc)
            acc += n

        def whole(p: int):
            i = bisect_right(starts, p) - 1
            return i, p - starts[i] + 1

        return whole
    taken = [max(1, n * population // total) for _, n in spec]
    starts, acc = [], 0
    for n in taken:
        starts.append(acc)
        acc += n

    def part(p: int):
        p %= acc
        i = bisect_right(starts, p) - 1
        return i, p - starts[i] + 1

    return part


def batch(spec: list, size: int, template: str) -> None:
    out = sys.stdout
    for insurer, n in spec:
        for first in range(1, n + 1, size):
            queries = [{"insurer_number": insurer, "insured_number": "%010d" % k} for k in range(first, min(first + size, n + 1))]
            out.write(line({"queries": queries}, template, insurer))
            out.write("\n")


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["insurers"] and len(args) == 2:
        for insurer, n in insurers(int(args[1])):
            print(f"{insurer}\t{n}")
    elif args[:1] == ["check"] and len(args) in (6, 7):
        spec = read_insurers(args[1])
        if args[2] not in ("zipf", "uniform"):
            raise SystemExit("distribution: zipf or uniform")
        limit = int(args[6]) if len(args) == 7 else 0
        check(spec, args[2], int(args[3]), int(args[4]), args[5], limit)
    elif args[:1] == ["batch"] and len(args) == 4:
        batch(read_insurers(args[1]), int(args[2]), args[3])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
