#!/usr/bin/env bash
# Debian packages the tests need and a fresh machine may lack: Java (EPUBCheck), Chromium
# (browser tests), qpdf and poppler-utils (pdftotext, pdfinfo, pdffonts: the print PDF checked),
# calibre (ebook-meta and ebook-convert: every book read by a reader's library and made an AZW3). Installs only what is missing; needs root (CI and these machines run as root).
set -euo pipefail
missing=()
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v qpdf >/dev/null 2>&1 || missing+=(qpdf)
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
command -v ebook-convert >/dev/null 2>&1 || missing+=(calibre)
if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "Missing system packages: ${missing[*]}. Install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "Installing ${missing[*]} from Debian"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
