"""The Kubernetes API's JSON schemas, from the kubernetes-validate wheel, in a
form kubeconform loads from files with no network.

The wheel keeps each Kubernetes release's schemas in
kubernetes_validate/kubernetes-json-schema/v<release>-local{,-strict}/, one
file per type, named <kind>-<group>-<version>.json as kubeconform names them
({{.ResourceKind}}{{.KindSuffix}}.json), with the shared definitions in
_definitions.json. Each file declares
    "$id": "https://kubernetes.io/api/<kind>/<group>/<version>"
and refers to the shared definitions as
    "$ref": "/api/_definitions.json#/$defs/<name>"
a reference that resolves against that $id to
https://kubernetes.io/api/_definitions.json (the $id of _definitions.json),
which kubeconform would try to download. Written out with the top-level $id
removed and each such reference made relative,
    "$ref": "_definitions.json#/$defs/<name>"
every reference resolves to the _definitions.json beside the file (references
within a file, "#/$defs/...", stay as they are). The result goes to
<out>/v<release>-standalone{,-strict}/, the layout of kubeconform's default
schema location, so `-schema-location <out>` finds it.

    python -m stackkit.kubernetes_schemas WHEEL RELEASE OUT   (RELEASE like 1.34.0)
"""

import json
import os
import sys
import zipfile

ABSOLUTE_DEFINITIONS = "/api/_definitions.json#"
RELATIVE_DEFINITIONS = "_definitions.json#"
WHEEL_DIR = "kubernetes_validate/kubernetes-json-schema"


def rewrite(schema):
    """The schema with its top-level $id removed and every reference to the
    shared definitions made relative to the file. Raises ValueError on any
    other reference outside the file."""
    def walk(node):
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str):
                    if value.startswith(ABSOLUTE_DEFINITIONS):
                        value = RELATIVE_DEFINITIONS + value[len(ABSOLUTE_DEFINITIONS):]
                    elif not value.startswith("#"):
                        raise ValueError("unexpected $ref %r" % value)
                out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    schema = walk(schema)
    if isinstance(schema, dict):
        schema.pop("$id", None)
    return schema


def convert(wheel, release, out):
    """Writes the rewritten schemas of Kubernetes `release` (e.g. "1.34.0")
    from the kubernetes-validate wheel to out/v<release>-standalone{,-strict}/;
    returns the number of files written."""
    written = 0
    with zipfile.ZipFile(wheel) as archive:
        for suffix in ("", "-strict"):
            prefix = "%s/v%s-local%s/" % (WHEEL_DIR, release, suffix)
            names = [n for n in archive.namelist() if n.startswith(prefix) and n.endswith(".json")]
            if not any(n.endswith("/_definitions.json") for n in names):
                raise ValueError("%s has no schemas for Kubernetes %s (%s)" % (wheel, release, prefix))
            target = os.path.join(out, "v%s-standalone%s" % (release, suffix))
            os.makedirs(target, exist_ok=True)
            for name in names:
                schema = rewrite(json.loads(archive.read(name)))
                with open(os.path.join(target, os.path.basename(name)), "w", encoding="utf-8") as f:
                    json.dump(schema, f, separators=(",", ":"))
                written += 1
    return written


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    wheel, release, out = argv
    print("kubernetes_schemas: %d schemas of Kubernetes %s written to %s"
          % (convert(wheel, release, out), release, out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
