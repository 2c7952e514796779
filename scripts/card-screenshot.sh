#!/bin/sh
# Regenerate docs/img/sample-card.png: the bundled sample's announcement card, drawn by
# `seminar-bot preview --html` (the very payloads the bot sends) and photographed by headless
# Chromium. Installs nothing: on Debian, `apt-get install chromium` first (and
# fonts-noto-color-emoji for the button's emoji).
#
#   scripts/card-screenshot.sh [OUTPUT.png]
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$here/docs/img/sample-card.png"}
bot=${SEMINAR_BOT:-"$here/.venv/bin/seminar-bot"}
browser=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$browser" ]; then
    echo "card-screenshot: chromium not found (Debian: apt-get install chromium)" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

"$bot" preview --html "$work/cards.html" >/dev/null
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$work/profile" \
    --window-size=560,480 --screenshot="$work/card.png" \
    "file://$work/cards.html#announcement" >/dev/null 2>&1
mkdir -p "$(dirname "$out")"
mv "$work/card.png" "$out"
echo "wrote $out"
