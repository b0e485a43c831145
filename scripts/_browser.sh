# The headless browser of the report's tests (Debian's chromium): sourced, not run.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/_browser.sh"
#   ensure_browser     # installs chromium with apt-get when /usr/bin/chromium is missing
#
# The tests drive it with playwright's Python client and never download a browser of
# playwright's own (`playwright install` is not used): they launch this one by its path.
# Without root or apt-get it only warns: the browser tests then skip, saying why.

BROWSER="${BULKGRAPH_CHROMIUM:-/usr/bin/chromium}"

ensure_browser() {
    [[ -x "$BROWSER" ]] && return 0
    if [[ "$BROWSER" != /usr/bin/chromium ]]; then
        echo "warning: BULKGRAPH_CHROMIUM=$BROWSER is not an executable: browser tests will skip" >&2
        return 0
    fi
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "warning: $BROWSER missing and cannot be installed here (needs root and apt-get):" \
            "the report's browser tests will skip (apt-get install chromium)" >&2
        return 0
    fi
    echo "installing chromium (Debian's package) for the report's browser tests" >&2
    export DEBIAN_FRONTEND=noninteractive
    # an old or missing package list finds no chromium: refresh it once, then install
    if ! apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1; then
        apt-get update -q >/dev/null ||
            die "apt-get update failed: cannot install chromium for the browser tests"
        apt-get install -y -q --no-install-recommends chromium >/dev/null ||
            die "apt-get install chromium failed"
    fi
    [[ -x "$BROWSER" ]] || die "apt-get installed chromium but $BROWSER is missing"
}
