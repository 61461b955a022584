"""``python -m rmt_icl`` is the same as the ``rmt-icl`` console script."""

from rmt_icl.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
