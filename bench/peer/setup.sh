#!/usr/bin/env bash
# Sets up the docassemble peer of the interview-speed benchmark, offline apart
# from the package registries. Idempotent: each step is skipped when a marker
# says it is done (delete var/bench/docassemble-venv or var/bench/nltk_data to
# redo one). Run from anywhere; paths are relative to the repository root.
#
#   bash bench/peer/setup.sh
#   var/bench/docassemble-venv/bin/python bench/peer/run_peer.py --walks 30 --out FILE
#
# Makes:
#   var/bench/docassemble-venv  docassemble.base 1.10.5 and its pinned
#                               dependencies (~1 GB, about a minute)
#   var/bench/nltk_data         the NLTK corpora docassemble needs at import,
#                               built from Debian's WordNet packages
#
# Needs root for apt-get (only when a Debian package is missing).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3}"
VENV="var/bench/docassemble-venv"
NLTK_DATA_DIR="var/bench/nltk_data"
REQUIREMENTS="bench/peer/requirements.txt"
VENV_MARKER="$VENV/.peer-installed"
NLTK_MARKER="$NLTK_DATA_DIR/.peer-prepared"

log() { printf 'peer setup: %s\n' "$*" >&2; }

# --- Debian packages ---------------------------------------------------------
# wordnet-base, wordnet-sense-index: the WordNet 3.0 database. docassemble.base
#   imports its fork of Pattern (docassemble_pattern), whose English module
#   needs NLTK's "wordnet", "wordnet_ic" and "sentiwordnet" corpora at import
#   time and calls nltk.download() when they are missing. Offline that raises
#   "ValueError: Error loading wordnet: <urlopen error ...>" and nothing in
#   docassemble.base.parse can be imported. NLTK's "wordnet" corpus is the
#   plain WordNet 3.0 database files, which these two packages ship in
#   /usr/share/wordnet (index.sense is in wordnet-sense-index).
# libzbar0: docassemble.base.util imports pyzbar (QR-code reading), which
#   loads the zbar C library with ctypes when imported; without it the import
#   fails with "ImportError: Unable to find zbar shared library", and every
#   assemble() imports docassemble.base.util into the interview's namespace.
DEBS=(wordnet-base wordnet-sense-index libzbar0)
missing=()
for deb in "${DEBS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$deb")
    fi
done
if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    if [[ $(id -u) -ne 0 ]]; then
        log "apt-get needs root: run as root, or install ${missing[*]} first"
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- The virtualenv ------------------------------------------------------------
# A separate virtualenv: docassemble.base pins ~180 packages exactly (Flask,
# numpy, pandas, cloud SDKs...), which must not meet our own dependencies.
# The marker records the requirements it was made from, so changing the pin
# remakes it.
wanted="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
changed=$((${#missing[@]} > 0))
if [[ -f $VENV_MARKER && $(cat "$VENV_MARKER") == "$wanted" ]]; then
    log "virtualenv ready ($VENV)"
else
    log "creating $VENV with $("$PYTHON" --version 2>&1) (about a minute, ~1 GB)"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS"
    printf '%s\n' "$wanted" >"$VENV_MARKER"
    changed=1
fi

# --- NLTK data -----------------------------------------------------------------
# The layout NLTK's own downloader leaves: corpora/NAME/ unpacked beside
# corpora/NAME.zip. Both are needed:
# - NLTK finds a corpus as corpora/NAME (directory or zip) under NLTK_DATA,
#   which run_peer.py points here; Pattern's import-time check uses that.
# - docassemble.base.pattern also tests for corpora/NAME.zip in the first NLTK
#   data directory and calls nltk.download() for each missing zip (wordnet,
#   wordnet_ic, sentiwordnet, omw-1.4). It ignores the failure, but each try
#   is a network lookup at import and an error message on stderr.
# What goes in:
# - wordnet: Debian's WordNet 3.0 files, plus "lexnames" (the 45
#   lexicographer file names), which NLTK's WordNet reader opens first but
#   Debian ships only as the table in the lexnames(5WN) manual page, so it is
#   rebuilt from that page in the file's format (number, name, category).
# - wordnet_ic: Pattern loads ic-brown.dat (information content counts from
#   the Brown corpus) at import and takes the maximum of each part of speech.
#   No Debian package ships it, so this is a placeholder with one root count
#   for nouns and one for verbs: enough to import. Only Pattern's WordNet
#   similarity measures read it, and no interview in this benchmark calls them.
# - sentiwordnet, omw-1.4: empty. Pattern only checks that sentiwordnet is
#   there (its sentiment scores load on first use, which never comes), and
#   NLTK reads the Open Multilingual Wordnet only for non-English WordNet.
if [[ -f $NLTK_MARKER ]]; then
    log "NLTK data ready ($NLTK_DATA_DIR)"
else
    log "preparing $NLTK_DATA_DIR from /usr/share/wordnet"
    rm -rf "$NLTK_DATA_DIR"
    corpora="$NLTK_DATA_DIR/corpora"
    mkdir -p "$corpora/wordnet" "$corpora/wordnet_ic" "$corpora/sentiwordnet" "$corpora/omw-1.4"
    cp /usr/share/wordnet/* "$corpora/wordnet/"
    zcat /usr/share/man/man5/lexnames.5WN.gz | awk -F'\t' '
        /^[0-9][0-9]\t/ {
            name = $2; gsub(/ /, "", name); split(name, part, ".")
            category = (part[1] == "noun") ? 1 : (part[1] == "verb") ? 2 : (part[1] == "adj") ? 3 : 4
            printf "%s\t%s\t%d\n", $1, name, category
        }' >"$corpora/wordnet/lexnames"
    if [[ $(wc -l <"$corpora/wordnet/lexnames") -ne 45 ]]; then
        log "expected 45 lexicographer files in lexnames(5WN), got $(wc -l <"$corpora/wordnet/lexnames")"
        exit 1
    fi
    # Offsets 1740 are the first synsets of data.noun and data.verb.
    printf 'wnver::placeholder (bench/peer/setup.sh: no Brown corpus counts)\n1740n 1.0 ROOT\n1740v 1.0 ROOT\n' \
        >"$corpora/wordnet_ic/ic-brown.dat"
    for corpus in wordnet wordnet_ic sentiwordnet omw-1.4; do
        (cd "$corpora" && "$ROOT/$VENV/bin/python" -m zipfile -c "$corpus.zip" "$corpus/")
    done
    touch "$NLTK_MARKER"
    changed=1
fi

# --- Check ---------------------------------------------------------------------
# Importing the engine is the test of all of the above (about 5 s), run when
# a step above did something.
if ((changed)); then
    NLTK_DATA="$ROOT/$NLTK_DATA_DIR" "$VENV/bin/python" -c 'import docassemble.base.parse, docassemble.base.util' \
        || { log "docassemble.base does not import: see the errors above"; exit 1; }
fi
log "ready: $VENV/bin/python bench/peer/run_peer.py --walks 30 --out FILE"
