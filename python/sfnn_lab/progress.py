"""Progress bars for ``Job.wait``: tqdm's (``tqdm.auto``: a widget in Jupyter, text in a
terminal) when tqdm is installed, else a plain line rewritten on stderr."""

from __future__ import annotations

import sys
from typing import Optional


def bar(total: Optional[int], desc: str, enabled: bool = True):
    if not enabled:
        return _Silent()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _Plain(total, desc)
    return _Tqdm(tqdm(total=total, desc=desc, unit="gen", dynamic_ncols=True))


class _Silent:
    def update_to(self, n, total=None, postfix=None):
        pass

    def close(self):
        pass


class _Tqdm:
    def __init__(self, bar):
        self.bar = bar

    def update_to(self, n, total=None, postfix=None):
        if total is not None and total != self.bar.total:
            self.bar.total = total
        if postfix:
            self.bar.set_postfix_str(postfix, refresh=False)
        if n > self.bar.n:
            self.bar.update(n - self.bar.n)
        elif postfix:
            self.bar.refresh()

    def close(self):
        self.bar.close()


class _Plain:
    """Without tqdm: one line on stderr, rewritten in a terminal, printed at the end otherwise."""

    def __init__(self, total, desc):
        self.total, self.desc, self.line = total, desc, ""
        self.tty = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()

    def update_to(self, n, total=None, postfix=None):
        self.total = total if total is not None else self.total
        of = f"/{self.total}" if self.total else ""
        self.line = f"{self.desc}: generation {n}{of}" + (f", {postfix}" if postfix else "")
        if self.tty:
            sys.stderr.write("\r" + self.line)
            sys.stderr.flush()

    def close(self):
        if self.line:
            sys.stderr.write(("\r" if self.tty else "") + self.line + "\n")
            sys.stderr.flush()
