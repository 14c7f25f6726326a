# Shared set-up for bin/callcenter and bin/test: a project-local virtual
# environment at the versions of constraints.txt, reinstalled only when
# pyproject.toml or constraints.txt change or an extra is missing.  Sourced, not run.
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

ensure_venv() {  # $1: extras ("" or "dev" or "dev,speech")
    ensure_python
    local extras="$1" stamp want have spec
    [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV" || die "could not create $VENV (Debian: apt-get install python3-venv)"
    # The stamp says which pyproject.toml + constraints.txt the venv was built from and with which
    # extras.  A venv with more extras than asked for is fine (bin/callcenter after bin/test does
    # not reinstall); a rebuild keeps the extras it had, so the two never undo each other.
    want="$(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | sha256sum | cut -c1-16)"
    stamp="$VENV/.installed"
    read -r have have_extras < "$stamp" 2>/dev/null || { have=""; have_extras=""; }
    extras="$(merge_extras "$extras" "$have_extras")"
    if [ "$have" = "$want" ] && [ "$extras" = "$(merge_extras "" "$have_extras")" ]; then
        return 0
    fi
    echo "installing Python dependencies into .venv ..." >&2
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    spec="$ROOT"
    [ -n "$extras" ] && spec="$ROOT[$extras]"
    "$VENV/bin/python" -m pip install -q -c "$ROOT/constraints.txt" -e "$spec" || die "pip install failed"
    echo "$want ${extras:--}" > "$stamp"
}

# merge_extras A B: the union of two comma-separated extras lists, sorted ("" when both are empty;
# "-" in a stamp means none).
merge_extras() {
    printf '%s\n' "$1" "$2" | tr ',' '\n' | grep -v '^-\?$' | sort -u | paste -sd, -
}
