#!/usr/bin/env bash
# Print the path of a Python 3.13 or newer (Azure Functions runs Quire on 3.13): $PYTHON when set,
# else python3.14 / python3.13 / python3 on PATH, else the newest such pyenv version.
# With none, say what to install and exit 1.
set -euo pipefail
fits() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 13))' >/dev/null 2>&1; }
if [[ -n "${PYTHON:-}" ]]; then
  if fits "$PYTHON"; then command -v "$PYTHON"; exit 0; fi
  echo "PYTHON=$PYTHON is not Python 3.13 or newer." >&2
  exit 1
fi
for candidate in python3.14 python3.13 python3; do
  if command -v "$candidate" >/dev/null 2>&1 && fits "$candidate"; then
    command -v "$candidate"
    exit 0
  fi
done
pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
for candidate in $(ls -d "$pyenv_root"/versions/3.1[3-9]* 2>/dev/null | sort -rV); do
  if [[ -x "$candidate/bin/python3" ]] && fits "$candidate/bin/python3"; then
    echo "$candidate/bin/python3"
    exit 0
  fi
done
echo "Quire needs Python 3.13 or newer (Azure Functions runs it on 3.13). Install python3.13 (or newer) and run this again, or set PYTHON=/path/to/python3.13." >&2
exit 1
