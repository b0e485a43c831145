# Shared setup of scripts/test and scripts/demo: sourced, not run.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/_bootstrap.sh"
#   bootstrap        # .venv with bulkgraph installed (editable)
#   bootstrap dev    # ... plus the dev tools (pytest, ruff, mypy, moto)
#
# Idempotent: pip only runs when .venv is new or pyproject.toml changed since the last install.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

die() {
    echo "error: $*" >&2
    exit 1
}

_find_python() {
    local candidate
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

_check_tools() {
    command -v java >/dev/null 2>&1 ||
        die "java not found: Neo4j 5.26 needs Java 17 or newer (e.g. apt-get install openjdk-17-jre-headless)"
    local version major
    version="$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)"
    major="${version%%.*}"
    [[ "$major" == "1" ]] && major="$(echo "$version" | cut -d. -f2)"
    [[ "$major" =~ ^[0-9]+$ ]] || die "cannot read the Java version from 'java -version'"
    ((major >= 17)) || die "java is version $version: Neo4j 5.26 needs Java 17 or newer"
    command -v mvn >/dev/null 2>&1 ||
        die "mvn not found: bulkgraph assembles Neo4j from Maven Central with Maven (e.g. apt-get install maven)"
}

# True if bulkgraph is installed from $ROOT with every requirement (and those of the extra).
# -P: the working directory is not on the path, or run from $ROOT the source tree itself
# passed for an installed bulkgraph and pip was skipped.
_installed() {
    ROOT="$ROOT" EXTRA="$1" "$PY" -P - <<'PY' 2>/dev/null
import os, re, sys
from importlib import metadata
import bulkgraph
if not os.path.realpath(bulkgraph.__file__).startswith(os.path.realpath(os.environ["ROOT"])):
    sys.exit(1)
extra = os.environ["EXTRA"]
for req in metadata.requires("bulkgraph") or []:
    spec, _, marker = req.partition(";")
    if "extra" in marker and f'"{extra}"' not in marker:
        continue
    metadata.distribution(re.split(r"[\[<>=!~ ]", spec.strip(), maxsplit=1)[0])
PY
}

bootstrap() {
    local extras="${1:-}"
    _check_tools
    if [[ ! -x "$PY" ]]; then
        local python
        python="$(_find_python)" || die "no python3 >= 3.11 found on PATH"
        echo "creating $VENV with $python" >&2
        "$python" -m venv "$VENV"
    fi
    local spec="." stamp
    [[ -n "$extras" ]] && spec=".[$extras]"
    stamp="$VENV/.bulkgraph-install-${extras:-base}"
    local want
    want="$(cksum <"$ROOT/pyproject.toml")"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    # a venv made some other way that already has everything: no need to touch it
    if [[ ! -f "$stamp" ]] && _installed "$extras"; then
        echo "$want" >"$stamp"
        return 0
    fi
    echo "installing bulkgraph${extras:+ with $extras extras} into $VENV" >&2
    (cd "$ROOT" && "$PY" -m pip install --quiet --disable-pip-version-check -e "$spec") ||
        die "pip install -e '$spec' failed"
    echo "$want" >"$stamp"
}
