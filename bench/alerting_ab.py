"""A party's public alerting alone, CPU time, old code against new in alternation.

The input is what one party of a recorded exercise fed its alerting authority: its fused
pictures (PARTY/fused.jsonl under the run's mode directory, e.g. OUT/sharing), replayed
picture by picture through warnlink.exercise.alerting.PartyAlerting as the party does
(assess, issue, render and validate CAP, write the feed). Each run is a fresh process
importing warnlink from the given source tree (PYTHONPATH), so the old tree may be a
`git worktree` of an earlier commit; runs alternate, since only same-session ratios count
on a shared machine. Also printed: the CPU of the pictures that issued messages (what
delays a correction) and whether the messages issued (type, stage and regions of each)
agree between the trees.
Usage: python bench/alerting_ab.py RUN_DIR PARTY OLD_SRC NEW_SRC [PAIRS]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

RUN = """
import itertools, json, sys, tempfile, time
from pathlib import Path
import msgspec
from warnlink.exercise.alerting import PartyAlerting
from warnlink.exercise.plan import FusedRecord, PartyPlan
run, party = Path(sys.argv[1]), sys.argv[2]
plan = msgspec.json.decode((run / party / "plan.json").read_bytes(), type=PartyPlan)
lines = (run / party / "fused.jsonl").read_bytes().splitlines()
records = [msgspec.json.decode(line, type=FusedRecord) for line in lines]
with tempfile.TemporaryDirectory() as out:
    alerting = PartyAlerting(plan, Path(out))
    total, issuing, kinds = 0.0, [], []
    for wall, group in itertools.groupby(records, key=lambda r: r.wall):
        group = list(group)
        c0 = time.process_time()
        messages, _ = alerting.picture([g.estimate for g in group], group[0].known_t, wall)
        cpu = time.process_time() - c0
        total += cpu
        if messages:
            issuing.append(cpu)
            kinds += [
                [m.msg_type, sorted(f"{p.stage}:{r.region.id}" for p in m.parts for r in p.risks)]
                for m in messages
            ]
print(json.dumps({"cpu_s": total, "issuing_cpu_s": issuing, "messages": kinds}))
"""


def replay(src: str, run: Path, party: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(Path(src).resolve()))
    out = subprocess.run(
        [sys.executable, "-c", RUN, str(run), party],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    result: dict = json.loads(out.stdout)
    return result


def main(run: Path, party: str, old: str, new: str, pairs: int) -> None:
    before, after = [], []
    for i in range(pairs):
        before.append(replay(old, run, party))
        after.append(replay(new, run, party))
        b, a = before[-1]["cpu_s"], after[-1]["cpu_s"]
        print(f"pair {i + 1}: CPU before {b:.2f} s, after {a:.2f} s", flush=True)
    b = statistics.median(r["cpu_s"] for r in before)
    a = statistics.median(r["cpu_s"] for r in after)
    print(f"median CPU: before {b:.2f} s, after {a:.2f} s, ratio {a / b:.3f}")
    for name, rs in (("before", before), ("after", after)):
        issuing = rs[-1]["issuing_cpu_s"]
        if issuing:
            print(
                f"{name}: {len(issuing)} issuing pictures, CPU median "
                f"{1e3 * statistics.median(issuing):.0f} ms, max {1e3 * max(issuing):.0f} ms"
            )
    same = before[-1]["messages"] == after[-1]["messages"]
    print(
        f"messages: before {len(before[-1]['messages'])}, after {len(after[-1]['messages'])}"
        f"{'' if same else ' (differ)'}"
    )


if __name__ == "__main__":
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4],
         int(sys.argv[5]) if len(sys.argv) == 6 else 3)  # fmt: skip
