"""``python -m valstudy.book``: build the book (:func:`valstudy.book.main`)."""
from . import main

raise SystemExit(main())
