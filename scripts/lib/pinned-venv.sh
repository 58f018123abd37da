# Sourced by the install-*.sh scripts: installs an exact, pinned set of Python packages into
# a venv of its own. Idempotent: a stamp file holding the hash of the requirements skips the
# install when nothing changed; a changed pin list reinstalls from scratch.
# Needs: python3 with the venv module (Debian: python3-venv); $PYTHON picks another interpreter.

# install_pinned_venv LABEL VENV REQUIREMENTS PROGRAM MODULE
#   LABEL         what to call it in messages (e.g. "moto[server]")
#   VENV          the venv folder
#   REQUIREMENTS  the pinned requirements file (every package, with --no-deps)
#   PROGRAM       a program of the venv's bin/ that must run with --help afterwards
#   MODULE        the Python module whose __version__ is printed
install_pinned_venv() {
    local label="$1" venv="$2" requirements="$3" program="$4" module="$5"
    local stamp="$venv/.dpipe-stamp"
    local want
    want="$(sha256sum "$requirements" | cut -d' ' -f1)"
    if [[ -x "$venv/bin/$program" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        echo "$label already installed in $venv" >&2
        return 0
    fi
    echo "installing $label into $venv" >&2
    rm -rf "$venv"
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$requirements"
    # --no-deps installs exactly the pinned set; `pip check` proves the set is complete.
    "$venv/bin/pip" check >&2
    "$venv/bin/$program" --help >/dev/null
    echo "$want" > "$stamp"
    echo "$label installed: $("$venv/bin/python" -c "import $module; print($module.__version__)")" >&2
}
