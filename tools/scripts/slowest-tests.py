#!/usr/bin/env python3
"""The slowest tests of the last `cargo nextest run` (its JUnit file), with their share of the
summed test time: `tools/scripts/slowest-tests.py [N] [target/nextest/default/junit.xml]`."""
import sys
import xml.etree.ElementTree as ET

n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
path = sys.argv[2] if len(sys.argv) > 2 else "target/nextest/default/junit.xml"
cases = []
for suite in ET.parse(path).getroot().iter("testsuite"):
    for case in suite.iter("testcase"):
        cases.append((float(case.get("time", "0")), f"{suite.get('name')} {case.get('name')}"))
cases.sort(reverse=True)
total = sum(t for t, _ in cases)
print(f"{len(cases)} tests, {total:.0f} s of test time in all; the {min(n, len(cases))} slowest:")
for t, name in cases[:n]:
    print(f"{t:7.1f} s  {100 * t / max(total, 1e-9):4.1f} %  {name}")
