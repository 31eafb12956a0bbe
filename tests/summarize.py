"""Counts test results from JUnit XML files (Catch2 and pytest) and prints the final
line of a test run: "N passed, N failed". Exits non-zero when anything failed."""

import glob
import os
import sys
import xml.etree.ElementTree as ET


def count(path):
    passed = failed = skipped = 0
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return 0, 1, 0  # a test binary that crashed mid-report
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def main():
    results, failed_builds = sys.argv[1], int(sys.argv[2])
    passed = failed = skipped = 0
    for path in sorted(glob.glob(os.path.join(results, "*.xml"))):
        p, f, s = count(path)
        print(f"  {os.path.basename(path)}: {p} passed, {f} failed, {s} skipped")
        passed, failed, skipped = passed + p, failed + f, skipped + s
    failed += failed_builds  # a build that failed counts as a failed test
    if skipped:
        print(f"({skipped} skipped)")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
