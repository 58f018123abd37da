"""Print the one-line summary of one schemathesis run from its console output.

Usage: summary.py ROLE LOG SECONDS EXIT_CODE

The line reads e.g. `anonymous: 26 operations, 1843 cases, 0 failures, 0 errors, 41 s, ok`.
Failures are the unique failures schemathesis reports (a 5xx, an answer that breaks the
document, ...); errors are cases it could not run at all (e.g. a connection refused).
"""

import re
import sys


def count(pattern, text):
    """The number the first match of `pattern` captures in `text`, 0 when it does not match."""
    found = re.search(pattern, text)
    return int(found.group(1)) if found else 0


def errors_block(text):
    """The summary's `Errors:` section (one `title: count` line per kind), or ''."""
    found = re.search(r"^Errors:\n((?:  .*\n)*)", text, re.MULTILINE)
    return found.group(1) if found else ""


def main():
    role, log, seconds, code = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with open(log, encoding="utf-8", errors="replace") as f:
        text = f.read()
    operations = count(r"Tested:\s+(\d+)", text)
    cases = count(r"(\d+) generated", text)
    failures = count(r"found (\d+) unique failure", text)
    errors = sum(int(n) for n in re.findall(r": (\d+)\n", errors_block(text)))
    if code == 0:
        verdict = "ok"
    elif code == 124:
        verdict = "TIMED OUT"
    else:
        verdict = f"FAILED (exit {code})"
    print(
        f"{role}: {operations} operations, {cases} cases, {failures} failures, "
        f"{errors} errors, {seconds} s, {verdict}"
    )


if __name__ == "__main__":
    main()
