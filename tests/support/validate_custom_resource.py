"""Validates custom resources against an upstream CRD the way the API server would, strictly.

usage: validate_custom_resource.py CRD.yaml OBJECT.json [OBJECT.json ...]

The object's apiVersion picks the CRD version; its openAPIV3Schema is closed (every object
schema that declares properties refuses others unless it sets
x-kubernetes-preserve-unknown-fields), so a field the API server would prune is an error.
Prints one line per problem and exits 1 if any object is invalid, 2 on bad input.
"""

import copy
import json
import sys

import jsonschema
import yaml


def closed(schema):
    """A copy of `schema` where no object accepts undeclared properties."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def schema_for(crd, api_version):
    group, _, version = api_version.rpartition("/")
    if group != crd["spec"]["group"]:
        return None
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            return closed(v["schema"]["openAPIV3Schema"])
    return None


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        crd = yaml.safe_load(f)
    kind = crd["spec"]["names"]["kind"]
    failed = False
    for path in argv[2:]:
        with open(path) as f:
            obj = json.load(f)
        if obj.get("kind") != kind:
            print(f"{path}: kind {obj.get('kind')!r} is not this CRD's kind {kind!r}")
            failed = True
            continue
        schema = schema_for(crd, obj.get("apiVersion", ""))
        if schema is None:
            print(f"{path}: apiVersion {obj.get('apiVersion')!r} is not served by the {kind} CRD")
            failed = True
            continue
        validator = jsonschema.Draft4Validator(schema)
        for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
            where = ".".join(str(p) for p in error.absolute_path) or "(root)"
            print(f"{path}: {kind} {where}: {error.message}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
