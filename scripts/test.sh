#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite: unit, app (AppTest) and the
# end-to-end browser tests (these need Debian's chromium: apt-get install chromium).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not e2e"`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
exec .venv/bin/python -m pytest "$@"
