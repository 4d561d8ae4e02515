"""``python -m valstudy.study ...`` is ``python -m valstudy study ...``."""
import sys

from ..cli import main

raise SystemExit(main(["study", *sys.argv[1:]]))
