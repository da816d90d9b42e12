"""Counts lines, words and characters of the text on stdin and lists the most frequent words.

Standard library only; runs the same under `python stats.py` and inside molecule-runtime's
Python interpreter (`__molecule_run_script__`).
"""

import argparse
import collections
import json
import re
import sys

WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")


def stats(text: str, top: int, min_length: int) -> dict:
    words = [w.lower() for w in WORD.findall(text)]
    counted = collections.Counter(w for w in words if len(w) >= min_length)
    return {
        "lines": len(text.splitlines()),
        "words": len(words),
        "characters": len(text),
        "unique_words": len(set(words)),
        "top_words": [{"word": w, "count": n}
                      for w, n in sorted(counted.items(), key=lambda i: (-i[1], i[0]))[:top]],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="stats.py", description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=10, metavar="N",
                        help="list the N most frequent words (default 10, 0 for none)")
    parser.add_argument("--min-length", type=int, default=1, metavar="N",
                        help="ignore words shorter than N characters (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.top < 0 or args.min_length < 1:
        parser.error("--top must be 0 or more and --min-length 1 or more")
    text = sys.stdin.read()
    if not text.strip():
        print("stats.py: no text on stdin", file=sys.stderr)
        return 3
    result = stats(text, args.top, args.min_length)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    print(f"lines: {result['lines']}")
    print(f"words: {result['words']}")
    print(f"characters: {result['characters']}")
    print(f"unique words: {result['unique_words']}")
    for item in result["top_words"]:
        print(f"{item['count']:>6}  {item['word']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
