"""The base images the compose stack needs from a registry, one per line:
every `FROM` of the Dockerfile that is neither a build stage nor `scratch`,
and the `image` of every docker-compose service that is not built here.

    python3 tests/compose/base_images.py DOCKERFILE RESOLVED_COMPOSE_YAML

RESOLVED_COMPOSE_YAML is the output of `docker-compose config` (variables
interpolated, anchors merged). Standard library and PyYAML.
"""

import re
import sys

import yaml

FROM = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?\s*$", re.IGNORECASE)


def dockerfile_bases(path):
    stages, bases = set(), []
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = FROM.match(line)
            if not m:
                continue
            image, stage = m.group(1), m.group(2)
            if "$" in image:
                sys.exit(f"base_images: {path}: FROM with a variable ({image}) is not supported")
            if image != "scratch" and image not in stages and image not in bases:
                bases.append(image)
            if stage:
                stages.add(stage)
    return bases


def compose_bases(path):
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    return [
        svc["image"]
        for svc in (doc.get("services") or {}).values()
        if svc.get("image") and not svc.get("build")
    ]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    names = []
    for name in dockerfile_bases(sys.argv[1]) + compose_bases(sys.argv[2]):
        if name not in names:
            names.append(name)
    print("\n".join(names))


if __name__ == "__main__":
    main()
