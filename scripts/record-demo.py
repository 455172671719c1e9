#!/usr/bin/env python3
"""Records the README's moving picture from the real binary, offline.

Replays demo.tape (the same steps tests/it/demo_tape.rs replays) against `flipdeck` in a detached
tmux session, capturing the screen (with colours, `capture-pane -e`) every FRAME seconds, and
writes:

  assets/demo.cast   an asciinema v2 recording (play it with `asciinema play assets/demo.cast`)
  assets/demo.svg    the same frames as one animated SVG (CSS keyframes), shown by the README

Usage: scripts/record-demo.py [--bin PATH_TO_FLIPDECK]   (default: target/release/flipdeck, else
target/debug/flipdeck; build first). Needs only tmux and python3. Re-run it after a UI change;
tests/it/demo_recording.rs fails while the recording does not show what the tape expects.
"""

import html
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIDTH, HEIGHT = 100, 30
FRAME = 0.25  # seconds between captures
TMUX_KEYS = {
    "Enter": "Enter", "Tab": "Tab", "Escape": "Escape", "Up": "Up", "Down": "Down",
    "Left": "Left", "Right": "Right", "Backspace": "BSpace", "Space": "Space",
    "PageUp": "PageUp", "PageDown": "PageDown", "Ctrl+C": "C-c",
}


def parse_tape(text):
    """The tape's steps: ("type", s), ("key", k), ("sleep", secs), ("expect", s), ("exit",)."""
    steps = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("# expect:"):
            steps.append(("expect", line[len("# expect:"):].strip()))
        elif line == "# expect-exit":
            steps.append(("exit",))
        elif not line or line.startswith("#") or line.split()[0] in ("Output", "Set", "Require"):
            continue
        elif line.startswith("Type "):
            steps.append(("type", json.loads(line[5:])))
        elif line.startswith("Sleep "):
            v = line.split()[1]
            secs = float(v[:-2]) / 1000 if v.endswith("ms") else float(v.rstrip("s"))
            steps.append(("sleep", secs))
        else:
            words = line.split()
            n = int(words[1]) if len(words) > 1 else 1
            steps.extend([("key", TMUX_KEYS[words[0]])] * n)
    return steps


class Session:
    def __init__(self, cmd):
        self.sock = "flipdeck-record-%d" % os.getpid()
        self.tmux("new-session", "-d", "-s", "rec", "-x", str(WIDTH), "-y", str(HEIGHT), cmd)
        self.frames = []  # (seconds since start, screen with SGR)
        self.start = time.monotonic()

    def tmux(self, *args, capture=False):
        r = subprocess.run(["tmux", "-L", self.sock, *args], check=True,
                           stdout=subprocess.PIPE if capture else None)
        return r.stdout.decode("utf-8", "replace") if capture else None

    def screen(self, colours=False):
        return self.tmux("capture-pane", "-p", *(["-e"] if colours else []), "-t", "rec",
                         capture=True)

    def snap(self):
        s = self.screen(colours=True)
        if not self.frames or self.frames[-1][1] != s:
            self.frames.append((time.monotonic() - self.start, s))

    def wait(self, secs):
        end = time.monotonic() + secs
        while time.monotonic() < end:
            self.snap()
            time.sleep(FRAME)

    def wait_for(self, pred, what, timeout=30):
        end = time.monotonic() + timeout
        while not pred(self.screen()):
            if time.monotonic() > end:
                sys.exit("timed out waiting for %s; screen:\n%s" % (what, self.screen()))
            self.snap()
            time.sleep(FRAME / 2)
        self.snap()

    def close(self):
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], stderr=subprocess.DEVNULL)


# ---- SGR → SVG ----------------------------------------------------------------------------
PALETTE = ["#1e1e2e", "#f38ba8", "#a6e3a1", "#f9e2af", "#89b4fa", "#cba6f7", "#94e2d5", "#cdd6f4",
           "#585b70", "#f38ba8", "#a6e3a1", "#f9e2af", "#89b4fa", "#cba6f7", "#94e2d5", "#ffffff"]
FG, BG = "#cdd6f4", "#1e1e2e"


def xterm256(n):
    if n < 16:
        return PALETTE[n]
    if n < 232:
        n -= 16
        c = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (c[n // 36], c[(n // 6) % 6], c[n % 6])
    g = 8 + (n - 232) * 10
    return "#%02x%02x%02x" % (g, g, g)


def sgr(params, st):
    ps = [int(p) if p else 0 for p in params.split(";")] if params else [0]
    i = 0
    while i < len(ps):
        p = ps[i]
        if p == 0:
            st.update(fg=None, bg=None, bold=False, rev=False, dim=False)
        elif p == 1:
            st["bold"] = True
        elif p == 2:
            st["dim"] = True
        elif p == 7:
            st["rev"] = True
        elif p in (22,):
            st["bold"] = st["dim"] = False
        elif p == 27:
            st["rev"] = False
        elif 30 <= p <= 37:
            st["fg"] = PALETTE[p - 30]
        elif 90 <= p <= 97:
            st["fg"] = PALETTE[p - 90 + 8]
        elif 40 <= p <= 47:
            st["bg"] = PALETTE[p - 40]
        elif 100 <= p <= 107:
            st["bg"] = PALETTE[p - 100 + 8]
        elif p == 39:
            st["fg"] = None
        elif p == 49:
            st["bg"] = None
        elif p in (38, 48) and i + 1 < len(ps):
            if ps[i + 1] == 5 and i + 2 < len(ps):
                st["fg" if p == 38 else "bg"] = xterm256(ps[i + 2])
                i += 2
            elif ps[i + 1] == 2 and i + 4 < len(ps):
                st["fg" if p == 38 else "bg"] = "#%02x%02x%02x" % tuple(ps[i + 2:i + 5])
                i += 4
        i += 1


def runs(line):
    """A line with SGR sequences as (text, style) runs."""
    st = dict(fg=None, bg=None, bold=False, rev=False, dim=False)
    out, pos = [], 0
    for m in re.finditer(r"\x1b\[([0-9;]*)m", line):
        if m.start() > pos:
            out.append((line[pos:m.start()], dict(st)))
        sgr(m.group(1), st)
        pos = m.end()
    if pos < len(line):
        out.append((line[pos:], dict(st)))
    return out


CW, LH = 8.4, 17  # cell width and line height, px


def frame_svg(screen):
    parts = []
    for y, line in enumerate(screen.split("\n")[:HEIGHT]):
        x = 0
        for text, st in runs(line):
            text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
            if not text:
                continue
            fg, bg = st["fg"] or FG, st["bg"]
            if st["rev"]:
                fg, bg = (st["bg"] or BG), (st["fg"] or FG)
            n = len(text)
            if bg:
                parts.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>'
                             % (x * CW, y * LH, n * CW, LH, bg))
            if text.strip():
                attrs = ' fill="%s"' % fg
                if st["bold"]:
                    attrs += ' font-weight="bold"'
                if st["dim"]:
                    attrs += ' opacity="0.6"'
                parts.append('<text x="%.1f" y="%d"%s textLength="%.1f">%s</text>'
                             % (x * CW, y * LH + 13, attrs, n * CW, html.escape(text)))
            x += n
    return "".join(parts)


def write_svg(frames, path):
    total = frames[-1][0] + 2.0
    css, groups = [], []
    for i, (t, screen) in enumerate(frames):
        end = frames[i + 1][0] if i + 1 < len(frames) else total
        a, b = 100 * t / total, 100 * end / total
        css.append("#f%d{animation:k%d %.2fs steps(1) infinite}"
                   "@keyframes k%d{0%%,%.3f%%{visibility:hidden}%.3f%%,%.3f%%{visibility:visible}"
                   "%.3f%%,100%%{visibility:hidden}}" % (i, i, total, i, a, a, b, b))
        groups.append('<g id="f%d">%s</g>' % (i, frame_svg(screen)))
    w, h = WIDTH * CW + 20, HEIGHT * LH + 20
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">'
           '<title>flipdeck demo (recorded from the real binary by scripts/record-demo.py)</title>'
           '<style>text{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:14px;'
           'white-space:pre}%s</style><rect width="100%%" height="100%%" rx="6" fill="%s"/>'
           '<g transform="translate(10,10)">%s</g></svg>\n'
           % (w, h, w, h, "".join(css), BG, "".join(groups)))
    with open(path, "w") as f:
        f.write(svg)


def write_cast(frames, path):
    with open(path, "w") as f:
        f.write(json.dumps({"version": 2, "width": WIDTH, "height": HEIGHT,
                            "title": "flipdeck demo", "env": {"TERM": "xterm-256color"}}) + "\n")
        for t, screen in frames:
            data = "\x1b[H\x1b[2J" + screen.replace("\n", "\r\n")
            f.write(json.dumps([round(t, 3), "o", data]) + "\n")


def main():
    args = sys.argv[1:]
    binary = None
    if args[:1] == ["--bin"] and len(args) > 1:
        binary = os.path.abspath(args[1])
    for cand in ("target/release/flipdeck", "target/debug/flipdeck"):
        if binary is None and os.path.exists(os.path.join(ROOT, cand)):
            binary = os.path.join(ROOT, cand)
    if binary is None:
        sys.exit("build flipdeck first (cargo build --release)")
    steps = parse_tape(open(os.path.join(ROOT, "demo.tape")).read())
    home = tempfile.mkdtemp(prefix="flipdeck-record-")
    cmd = ("env PATH=%s:\"$PATH\" HOME=%s XDG_CONFIG_HOME=%s/config XDG_DATA_HOME=%s/data "
           "TMPDIR=%s TERM=xterm-256color PS1='$ ' sh"
           % (shlex.quote(os.path.dirname(binary)), home, home, home, home))
    s = Session(cmd)
    try:
        s.wait(0.5)
        for step in steps:
            if step[0] == "type":
                s.tmux("send-keys", "-t", "rec", "-l", step[1])
                s.snap()
            elif step[0] == "key":
                s.tmux("send-keys", "-t", "rec", step[1])
                s.snap()
            elif step[0] == "sleep":
                s.wait(step[1])
            elif step[0] == "expect":
                s.wait_for(lambda sc, t=step[1]: t in sc, repr(step[1]))
            elif step[0] == "exit":
                s.wait_for(lambda sc: "Servers" not in sc, "flipdeck to exit")
        s.wait(1.0)
    finally:
        s.close()
    # The sandbox path in the header differs per run: the recording shows where it was.
    write_cast(s.frames, os.path.join(ROOT, "assets/demo.cast"))
    write_svg(s.frames, os.path.join(ROOT, "assets/demo.svg"))
    print("recorded %d frames, %.1fs: assets/demo.cast, assets/demo.svg"
          % (len(s.frames), s.frames[-1][0]))


if __name__ == "__main__":
    main()
