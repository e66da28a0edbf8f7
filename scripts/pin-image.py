#!/usr/bin/env python3
"""Pin the server image of environment settings files to a content digest.

    .venv/bin/python scripts/pin-image.py --repository ghcr.io/OWNER/akidb-embed \\
        --digest sha256:<64 hex> environments/staging.yaml environments/prod.yaml

Sets `image: {repository, digest}` on every `akidb_embed` component of each file (a tag
is dropped: the settings refuse a tag and a digest together; under `blue_green` the idle
colour's image, so the switch stays a change of its own) and keeps everything else as
written, comments included (ruamel.yaml round trip). The publishing workflow
(.github/workflows/ci.yml) runs it, then `cargo run -p gen -- write`, and opens a pull
request with the result. Every file is checked before any is written, and each is
replaced whole, so a bad input leaves all of them as they were.
"""

import argparse
import io
import os
import re
import sys
import tempfile

try:
    from ruamel.yaml import YAML, YAMLError
except ImportError:
    sys.exit("pin-image: ruamel.yaml is missing: run `make tools` and use .venv/bin/python")

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# Registry host, then one or more lowercase path parts (the OCI distribution grammar, short).
REPOSITORY = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)+$")
COMPONENT_KIND = "akidb_embed"


class Refused(Exception):
    """An input this script will not write; the message is for the user."""


def yaml_round_trip():
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    # The settings' own layout: maps by two, lists indented under their key.
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def pin(text, path, repository, digest):
    """The settings `text` with every akidb_embed component pinned; refuses a file without one."""
    yaml = yaml_round_trip()
    try:
        doc = yaml.load(text)
    except YAMLError as e:
        raise Refused(f"{path}: not valid YAML: {e}") from e
    components = doc.get("components") if hasattr(doc, "get") else None
    if not components:
        raise Refused(f"{path}: no `components`; is this an environment settings file?")
    pinned = 0
    for name, component in components.items():
        settings = component.get(COMPONENT_KIND) if hasattr(component, "get") else None
        if settings is None:
            continue
        if not hasattr(settings, "get"):
            # `akidb_embed:` with nothing under it: every key at its default.
            settings = component[COMPONENT_KIND] = yaml.map()
        target = settings
        blue_green = settings.get("blue_green")
        if hasattr(blue_green, "get"):
            # A new release goes to the idle colour, never the one serving traffic: the
            # switch stays a reviewed change of `active` after the smoke test.
            idle = "green" if blue_green.get("active") == "blue" else "blue"
            if not hasattr(blue_green.get(idle), "get"):
                blue_green[idle] = yaml.map()
            target = blue_green[idle]
        image = target.get("image")
        if image is None:
            image = target["image"] = yaml.map()
        image["repository"] = repository
        image.pop("tag", None)
        image["digest"] = digest
        pinned += 1
    if pinned == 0:
        raise Refused(f"{path}: no component of kind `{COMPONENT_KIND}` to pin")
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def write_atomically(path, text):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".pin-", suffix=".yaml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, os.stat(path).st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repository", required=True, help="registry/owner/name, no tag")
    parser.add_argument("--digest", required=True, help="sha256:<64 lowercase hex>")
    parser.add_argument("files", nargs="+", metavar="FILE", help="environment settings files")
    args = parser.parse_args(argv)

    if not DIGEST.match(args.digest):
        print(f"pin-image: `{args.digest}` is not a content digest (sha256: and 64 lowercase hex digits)", file=sys.stderr)
        return 2
    if not REPOSITORY.match(args.repository):
        print(f"pin-image: `{args.repository}` is not a repository like ghcr.io/owner/name (lowercase, no tag)", file=sys.stderr)
        return 2

    results = {}
    try:
        for path in args.files:
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            except OSError as e:
                raise Refused(f"{path}: cannot read it: {e.strerror}") from e
            results[path] = pin(text, path, args.repository, args.digest)
    except Refused as e:
        print(f"pin-image: {e}; nothing was written", file=sys.stderr)
        return 2
    for path, text in results.items():
        write_atomically(path, text)
        print(f"pinned {path} to {args.repository}@{args.digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
