#!/usr/bin/env bash
# Set up chemo-orders on a fresh Debian/Ubuntu machine (or a developer's checkout):
#   1. the system libraries weasyprint needs (pango; harfbuzz-subset halves render time), a
#      font (DejaVu), PostgreSQL (the order record's tests start a real server) and Chromium
#      (the workbench's browser tests drive Debian's build; never `playwright install`),
#      installed only when missing;
#   2. uv, if it is not installed;
#   3. the locked Python environment in .venv (uv.lock pins what a pharmacy validated).
# Fails loudly: any step that fails stops the script with a non-zero status.
set -euo pipefail
cd "$(dirname "$0")/.."

system_packages=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core postgresql chromium)
missing=()
if command -v dpkg >/dev/null 2>&1; then
  for package in "${system_packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
fi
if ((${#missing[@]})); then
  echo "setup: installing system packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! python3 -m uv --version >/dev/null 2>&1; then
  echo "setup: installing uv"
  python3 -m pip install --quiet uv 2>/dev/null \
    || python3 -m pip install --quiet --user --break-system-packages uv
fi
python3 -m uv sync --frozen --quiet --compile-bytecode
# Bytecode for the project's own sources too: where PYTHONDONTWRITEBYTECODE is set, Python
# would otherwise recompile them on every start (measured: a cold calc pays for it).
.venv/bin/python -m compileall -q src
echo "setup: ready (.venv)"
