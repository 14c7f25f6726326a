# Shared set-up for bin/callcenter and bin/test: a project-local virtual
# environment, reinstalled only when pyproject.toml changes.  Sourced, not run.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"

die() { echo "error: $*" >&2; exit 1; }

ensure_python() {
    command -v "$PY" >/dev/null || die "python3 (3.11 or newer) is required"
    "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "python 3.11 or newer is required (found $("$PY" --version))"
}

# apt_install PKG... : install Debian packages when missing (as root), or say
# exactly what to install.
apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing system packages: ${missing[*]}" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
            || die "apt-get install ${missing[*]} failed"
    else
        die "missing system packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})"
    fi
}

ensure_venv() {  # $1: extras ("" or "dev")
    ensure_python
    local extras="$1" stamp want
    [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV" || die "could not create $VENV (Debian: apt-get install python3-venv)"
    want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)-$extras"
    stamp="$VENV/.installed"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        echo "installing Python dependencies into .venv ..." >&2
        "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
        local spec="$ROOT"
        [ -n "$extras" ] && spec="$ROOT[$extras]"
        "$VENV/bin/python" -m pip install -q -e "$spec" || die "pip install failed"
        echo "$want" > "$stamp"
    fi
}
