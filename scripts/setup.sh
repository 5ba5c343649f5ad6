#!/usr/bin/env bash
# Set up spicepy on a fresh Debian 12 / Ubuntu machine (run as root, or with sudo).
# Idempotent: system packages are only installed when missing, the venv is only
# (re)installed when pyproject.toml/setup.py/the Cython sources changed.
#   bash scripts/setup.sh            # system packages + .venv + editable install
#   SPICEPY_SKIP_APT=1 bash scripts/setup.sh   # only the Python part
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${SPICEPY_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

APT_PACKAGES=(
    python3 python3-venv python3-dev python3-pip gcc g++ make pkg-config git ca-certificates
    xserver-xspice xserver-xorg-core x11-apps x11-utils x11-xserver-utils xdotool
    tshark spice-client-gtk libturbojpeg0 openssl procps
    clang  # tests/fuzz/build_instrumented.sh: Cython built for libFuzzer coverage
    python3-gi gir1.2-spiceclientglib-2.0
    qemu-system-x86 linux-image-amd64 busybox-static cpio tinyproxy sasl2-bin
    # tests/test_live_agent.py: guest agent, X clipboard, video encoders for Xspice
    spice-vdagent xclip gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly ffmpeg
    libvirt-daemon-system libvirt-clients libvirt-dev
    tesseract-ocr tesseract-ocr-eng xterm fonts-dejavu-core  # spicepy.bots OCR + live tests
    virt-viewer xvfb  # remote-viewer under Xvfb: the human the recording proxy records
)

log() { printf 'setup.sh: %s\n' "$*" >&2; }

install_system_packages() {
    if [[ -n "${SPICEPY_SKIP_APT:-}" ]]; then
        log "SPICEPY_SKIP_APT set: not touching system packages"
        return
    fi
    if ! command -v dpkg-query >/dev/null; then
        log "not a Debian/Ubuntu system: install the equivalents of: ${APT_PACKAGES[*]}"
        return
    fi
    local missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        log "system packages already installed"
        return
    fi
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || { log "need root to install: ${missing[*]}"; exit 1; }
        sudo=(sudo)
    fi
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; answer no, non-interactively.
    echo "wireshark-common wireshark-common/install-setuid boolean false" \
        | "${sudo[@]}" debconf-set-selections
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
}

stamp_of_sources() {
    # Reinstall when the build inputs change (Cython sources included).
    local files=(pyproject.toml setup.py)
    shopt -s nullglob
    files+=(codecs/*.pyx codecs/*.pxi spicepy/*/*.pyx spicepy/*/*.pxi)
    shopt -u nullglob
    cat "${files[@]}" | sha256sum | cut -d' ' -f1
}

install_python() {
    if [[ ! -x "$VENV/bin/python" ]]; then
        log "creating $VENV with $($PYTHON --version 2>&1)"
        "$PYTHON" -m venv "$VENV"
    fi
    local stamp_file="$VENV/.spicepy-installed" stamp
    stamp="$(stamp_of_sources)"
    if [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp" && -x "$VENV/bin/spicepy" ]]; then
        log "python environment up to date ($VENV)"
        return
    fi
    log "pip install -e .[test,plot,media,viewer] (builds the Cython codecs)"
    # (pip's stderr is filtered of the "Location ... is ignored" noise some mirrors cause)
    "$VENV/bin/python" -m pip install -q -e ".[test,plot,media,viewer]" </dev/null \
        2> >(sed -u '/Location .* is ignored/d' >&2)
    echo "$stamp" >"$stamp_file"
}

install_system_packages
install_python
"$VENV/bin/python" -c "import spicepy.codecs as c, spicepy; print('spicepy', spicepy.__version__, 'ready')"
log "done. Try: $VENV/bin/spicepy demo"
