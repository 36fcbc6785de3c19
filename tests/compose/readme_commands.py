"""The README's Docker commands are the compose test's, command for command.

    python3 tests/compose/readme_commands.py README.md RECORDED

README.md's section headed `### With Docker Compose` holds the commands in
fenced code blocks, one per line (comments after `#` and blank lines
ignored). RECORDED lists, one per line, the commands scripts/compose-test.sh
ran through its readme step, in order. Both lists must be equal.
"""

import re
import sys

HEADING = "### With Docker Compose"


def readme_commands(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start = text.find(f"\n{HEADING}\n")
    if start < 0:
        sys.exit(f"readme_commands: no '{HEADING}' section in {path}")
    # The next heading of level 2 or 3 ends it (a shell comment in a code
    # block has a single `#`).
    after = re.search(r"^#{2,3} ", text[start + len(HEADING) + 2:], re.M)
    section = text[start:] if after is None else text[start:start + len(HEADING) + 2 + after.start()]
    commands = []
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", section, re.M | re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    readme = readme_commands(sys.argv[1])
    with open(sys.argv[2], encoding="utf-8") as f:
        recorded = [line.rstrip("\n") for line in f if line.strip()]
    if readme != recorded:
        print("readme_commands: FAIL: the README's Docker commands differ from the test's", file=sys.stderr)
        for i in range(max(len(readme), len(recorded))):
            a = readme[i] if i < len(readme) else "(none)"
            b = recorded[i] if i < len(recorded) else "(none)"
            mark = "  " if a == b else "!="
            print(f"  {mark} README: {a}\n     test:   {b}", file=sys.stderr)
        sys.exit(1)
    print(f"compose-test: ok: the README's {len(readme)} Docker commands are the ones the test ran, in order")


if __name__ == "__main__":
    main()
