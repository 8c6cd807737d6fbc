"""Deterministic byte corpora for the terminal benchmark and differential tests.

Each generator returns at least ``size`` bytes of what a pty would carry
(CRLF line ends, as the tty's ONLCR produces).  Same size, same bytes.
"""
from __future__ import annotations

import random
from typing import Callable, Dict

_WORDS = ("request handled user cache miss hit retry connection upstream timeout "
          "worker pool queue flush commit index shard replica leader vote term "
          "snapshot compaction segment offset partition consumer producer").split()


def log_with_sgr(size: int, seed: int = 1) -> bytes:
    """Application log: timestamps, coloured levels, some lines wider than 120."""
    rnd = random.Random(seed)
    levels = [("\x1b[32mINFO\x1b[0m", 70), ("\x1b[33mWARN\x1b[0m", 15),
              ("\x1b[1;31mERROR\x1b[0m", 5), ("\x1b[2mDEBUG\x1b[0m", 10)]
    names = [lv for lv, _ in levels]
    weights = [w for _, w in levels]
    out = []
    n = 0
    t = 0
    while n < size:
        t += rnd.randint(1, 900)
        words = " ".join(rnd.choice(_WORDS) for _ in range(rnd.randint(3, 30)))
        line = "2024-03-%02d %02d:%02d:%02d.%03d %s [\x1b[36m%s\x1b[0m] %s id=%d\r\n" % (
            1 + t // 86_400_000 % 28, t // 3_600_000 % 24, t // 60_000 % 60, t // 1000 % 60, t % 1000,
            rnd.choices(names, weights)[0], rnd.choice(_WORDS), words, rnd.randint(0, 10**9))
        b = line.encode()
        out.append(b)
        n += len(b)
    return b"".join(out)


def ls_color(size: int, seed: int = 2) -> bytes:
    """``ls --color=always -lR``: headers, totals, coloured names."""
    rnd = random.Random(seed)
    out = []
    n = 0
    d = 0
    colors = {"dir": "01;34", "exe": "01;32", "link": "01;36", "arc": "01;31", "file": None}
    while n < size:
        d += 1
        path = "./" + "/".join(rnd.choice(_WORDS) for _ in range(rnd.randint(1, 5)))
        lines = ["%s:\r\n" % path, "total %d\r\n" % rnd.randint(0, 9999)]
        for _ in range(rnd.randint(2, 40)):
            kind = rnd.choices(list(colors), [20, 5, 5, 3, 67])[0]
            name = "%s_%s%s" % (rnd.choice(_WORDS), rnd.randint(0, 999),
                                {"arc": ".tar.gz", "exe": ""}.get(kind, rnd.choice([".c", ".py", ".txt", ""])))
            perms = {"dir": "drwxr-xr-x", "exe": "-rwxr-xr-x", "link": "lrwxrwxrwx"}.get(kind, "-rw-r--r--")
            col = colors[kind]
            shown = "\x1b[%sm%s\x1b[0m" % (col, name) if col else name
            if kind == "link":
                shown += " -> ../%s" % rnd.choice(_WORDS)
            lines.append("%s %2d %-8s %-8s %8d %s %2d %02d:%02d %s\r\n" % (
                perms, rnd.randint(1, 9), rnd.choice(["root", "alice", "build"]), rnd.choice(["root", "staff"]),
                rnd.randint(0, 10**7), rnd.choice(["Jan", "Feb", "Mar", "Apr"]), rnd.randint(1, 28),
                rnd.randint(0, 23), rnd.randint(0, 59), shown))
        lines.append("\r\n")
        b = "".join(lines).encode()
        out.append(b)
        n += len(b)
    return b"".join(out)


def cursor_session(size: int, seed: int = 3, rows: int = 40, cols: int = 120) -> bytes:
    """A recorded vim/htop-style session: alternate screen, cursor-addressed
    redraws with colour, scroll regions, partial updates, status lines."""
    rnd = random.Random(seed)
    out = ["\x1b[?1049h\x1b[?1h\x1b=\x1b[H\x1b[2J"]
    n = len(out[0])
    frame = 0
    syntax = ["\x1b[38;5;%dm" % c for c in (81, 148, 186, 197, 141, 208)] + ["\x1b[1;34m", "\x1b[3;32m"]
    while n < size:
        frame += 1
        parts = ["\x1b[?25l"]
        kind = frame % 4
        if kind == 0:  # full vim redraw
            for y in range(1, rows - 1):
                parts.append("\x1b[%d;1H" % y)
                parts.append("\x1b[33m%4d \x1b[0m" % (frame + y))
                width = 5
                while width < cols - 15 and rnd.random() < 0.85:
                    word = rnd.choice(_WORDS)
                    parts.append("%s%s\x1b[0m " % (rnd.choice(syntax), word))
                    width += len(word) + 1
                parts.append("\x1b[K")
            parts.append("\x1b[%d;1H\x1b[7m %-*s\x1b[0m" % (rows - 1, cols - 2, "main.py [+] %d%%" % (frame % 100)))
            parts.append("\x1b[%d;1H\x1b[K-- INSERT --" % rows)
        elif kind == 1:  # htop-like header and list
            for y in range(1, 5):
                pct = rnd.randint(0, 100)
                bar = "|" * (pct * 50 // 100)
                parts.append("\x1b[%d;3H\x1b[1m%d\x1b[0m[\x1b[32m%s\x1b[31m%s\x1b[0m%s%5.1f%%]" % (
                    y, y, bar[: len(bar) // 2], bar[len(bar) // 2:], " " * (50 - len(bar)), pct))
            for y in range(7, rows):
                parts.append("\x1b[%d;1H%s%7d %-8s %3d %5.1f %5.1f %s\x1b[0m\x1b[K" % (
                    y, "\x1b[30;46m" if y == 9 else "", rnd.randint(1, 99999), rnd.choice(["root", "alice"]),
                    rnd.randint(0, 39), rnd.random() * 100, rnd.random() * 10,
                    " ".join(rnd.choice(_WORDS) for _ in range(rnd.randint(1, 8)))))
        elif kind == 2:  # scroll inside a region (vim scrolling the buffer)
            top, bot = 2, rows - 3
            parts.append("\x1b[%d;%dr\x1b[%d;1H" % (top, bot, bot))
            for _ in range(rnd.randint(1, 6)):
                parts.append("\n\x1b[%d;1H%s%s\x1b[0m\x1b[K" % (bot, rnd.choice(syntax),
                                                               " ".join(rnd.choice(_WORDS) for _ in range(8))))
            parts.append("\x1b[%d;1H\x1bM\x1b[2L\x1b[1M" % top)
            parts.append("\x1b[r")
        else:  # typing: small edits, erase, insert/delete chars
            y = rnd.randint(1, rows - 2)
            x = rnd.randint(1, cols - 20)
            parts.append("\x1b[%d;%dH%s\x1b[2@\x1b[1P\x1b[3X\x1b[%dG\x1b[1K" % (y, x, rnd.choice(_WORDS), x + 3))
            parts.append("\x1b[%d;%dH\x1b[0J" % (rows, 1))
        parts.append("\x1b[%d;%dH\x1b[?25h" % (rnd.randint(1, rows), rnd.randint(1, cols)))
        b = "".join(parts)
        out.append(b)
        n += len(b.encode())
    out.append("\x1b[?1049l\x1b[?1l\x1b>")
    return "".join(out).encode()


_CJK = "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴切拉集房"
_EMOJI = "😀😃😄😁😆😅😂🤣😊😇🙂🙃😉😌😍🥰😘😗😙😚😋😛😝😜🤪🤨🧐🤓😎🥸🤩🥳😏😒😞😔😟😕🙁😣😖😫😩🥺😢😭😤😠😡🤬🤯😳🥵🥶😱😨😰😥😓🤗🤔🤭🤫🤥😶😐😑😬🙄😯😦😧😮😲🥱😴🤤😪😵🤐🥴🤢🤮🤧😷🤒🤕🤑🤠😈👿👹👺🤡💩👻💀👽👾🤖🎃😺😸😹😻😼😽🙀😿😾🚀🌍🌟🔥💧🌈🍎🍕🎉🎵📦🔧🔒📌✅🐍🦀🐧"
_KANA = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんアイウエオカキクケコサシスセソ"
_HANGUL = "가나다라마바사아자차카타파하한국어세계안녕하세요"
_ACCENTED = "éèêëàâäîïôöùûüçñÉÀÇßøåæœ"


def cjk_emoji(size: int, seed: int = 4) -> bytes:
    """Chinese/Japanese/Korean prose with emoji, accents and some colour;
    lines of width below, near and over 120 columns."""
    rnd = random.Random(seed)
    out = []
    n = 0
    pools = [_CJK, _KANA, _HANGUL, _EMOJI]
    while n < size:
        chunks = []
        for _ in range(rnd.randint(1, 12)):
            r = rnd.random()
            if r < 0.55:
                pool = rnd.choice(pools)
                chunks.append("".join(rnd.choice(pool) for _ in range(rnd.randint(1, 12))))
            elif r < 0.75:
                chunks.append(rnd.choice(_WORDS) + rnd.choice(_ACCENTED))
            elif r < 0.9:
                chunks.append("\x1b[%dm%s\x1b[0m" % (rnd.choice([1, 31, 32, 33, 34, 35, 36, 4, 7]),
                                                   "".join(rnd.choice(_CJK) for _ in range(rnd.randint(1, 6)))))
            else:
                chunks.append(" ".join(rnd.choice(_WORDS) for _ in range(rnd.randint(1, 5))))
        b = (" ".join(chunks) + "\r\n").encode()
        out.append(b)
        n += len(b)
    return b"".join(out)


CORPORA: Dict[str, Callable[[int], bytes]] = {
    "log-sgr": log_with_sgr,
    "ls-color-lR": ls_color,
    "vim-htop-session": cursor_session,
    "cjk-emoji": cjk_emoji,
}
