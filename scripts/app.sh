#!/usr/bin/env bash
# Set up (if needed) and start the app on http://127.0.0.1:8501 (the Home page's
# one-click "Try it" trains the default dataset, digits). Extra arguments go to
# streamlit, e.g. `bash scripts/app.sh --server.port 8600`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/streamlit run app.py "$@"
