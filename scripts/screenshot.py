#!/usr/bin/env python3
"""Turns a terminal capture with colours (`tmux capture-pane -e -p`) into a still SVG for the README.

The dashboard tests that reach a state worth showing call `Tmux::screenshot(NAME)`; with
FLIPDECK_SCREENSHOT=DIR set they write DIR/NAME.ansi. Then:

  FLIPDECK_SCREENSHOT=/tmp/shots cargo test --test it -- TEST_NAME
  scripts/screenshot.py /tmp/shots/NAME.ansi assets/screens/NAME.svg "what it shows"

The SVG uses the same palette and cell metrics as scripts/record-demo.py (assets/demo.svg), so
the still pictures match the animation. Needs only python3.
"""

import html
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def recorder():
    spec = importlib.util.spec_from_file_location("record_demo", os.path.join(HERE, "record-demo.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: scripts/screenshot.py CAPTURE.ansi OUT.svg [TITLE]")
    src, out = sys.argv[1], sys.argv[2]
    title = sys.argv[3] if len(sys.argv) == 4 else "flipdeck"
    with open(src, encoding="utf-8", errors="replace") as f:
        screen = f.read().rstrip("\n")
    rec = recorder()
    lines = screen.split("\n")
    rec.HEIGHT = len(lines)
    width = max(len(rec.re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", l)) for l in lines)
    w, h = width * rec.CW + 20, rec.HEIGHT * rec.LH + 20
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">'
           '<title>%s (captured from the real binary by scripts/screenshot.py)</title>'
           '<style>text{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:14px;'
           'white-space:pre}</style><rect width="100%%" height="100%%" rx="6" fill="%s"/>'
           '<g transform="translate(10,10)">%s</g></svg>\n'
           % (w, h, w, h, html.escape(title), rec.BG, rec.frame_svg(screen)))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        f.write(svg)
    print("wrote %s (%dx%d cells)" % (out, width, rec.HEIGHT))


if __name__ == "__main__":
    main()
