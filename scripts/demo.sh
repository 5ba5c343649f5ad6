#!/usr/bin/env bash
# Set up (idempotent), then run the demo: a local Xspice with known content,
# a spicepy screenshot of it, and a pixel comparison with the server's framebuffer.
#   bash scripts/demo.sh [--compression glz] [-o out.png]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SPICEPY_VENV:-$ROOT/.venv}"
bash "$ROOT/scripts/setup.sh"
exec "$VENV/bin/spicepy" demo "$@"
