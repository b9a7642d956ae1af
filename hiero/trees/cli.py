"""CLI of the search stage: `hiero annotate`, `hiero trees show`, `hiero trees html`.

    hiero annotate --policy runs/policy --problems problems.jsonl -o trees.jsonl --mode bfs
    hiero trees show trees.jsonl --id synth-test-0-3
    hiero trees html trees.jsonl -o trees.html
"""

from __future__ import annotations

import argparse
import json
import sys

from hiero.config import add_config_args, config_from_args
from hiero.data.io import DataError, atomic_write, read_jsonl
from hiero.trees.annotate import AnnotateConfig, main
from hiero.trees.view import format_tree, render_html
from hiero.types import Tree


def register(sub) -> None:
    p = sub.add_parser("annotate", help="sample reasoning trees and label every step with its MC score",
                       description=__doc__.splitlines()[0])
    add_config_args(p, AnnotateConfig, skip=("out",))
    p.add_argument(
        "-o", "--out", dest="out", default=argparse.SUPPRESS, help="output trees JSONL (resumable)"
    )
    p.set_defaults(func=_annotate)

    trees = sub.add_parser("trees", help="look at reasoning trees (show | html)")
    tsub = trees.add_subparsers(dest="trees_command", metavar="ACTION", required=True)
    s = tsub.add_parser("show", help="print one tree indented, with MC scores")
    s.add_argument("trees", help="trees JSONL")
    s.add_argument("--id", default=None, help="problem id (default: the first tree)")
    s.add_argument("--max-depth", type=int, default=None, help="print nodes down to this depth")
    s.set_defaults(func=_show)
    h = tsub.add_parser("html", help="write a self-contained HTML page of the trees")
    h.add_argument("trees", help="trees JSONL")
    h.add_argument("-o", "--out", required=True, help="output .html")
    h.add_argument("--limit", type=int, default=None, help="only the first N trees")
    h.set_defaults(func=_html)


def _annotate(args) -> int:
    summary = main(config_from_args(AnnotateConfig, args))
    print(json.dumps(summary, indent=2))
    return 0


def _show(args) -> int:
    for tree in read_jsonl(args.trees, Tree):
        if args.id is None or tree.problem.id == args.id:
            print(format_tree(tree, args.max_depth))
            return 0
    print(f"hiero: error: {args.trees}: no tree with problem id {args.id!r}", file=sys.stderr)
    return 2


def _html(args) -> int:
    trees = []
    for tree in read_jsonl(args.trees, Tree):
        if args.limit is not None and len(trees) >= args.limit:
            break
        trees.append(tree)
    if not trees:
        raise DataError(args.trees, None, "no trees in the file")
    with atomic_write(args.out) as f:
        f.write(render_html(trees, title=f"hiero trees: {args.trees}"))
    print(f"wrote {len(trees)} trees to {args.out}")
    return 0
