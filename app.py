"""Start the web app: `python app.py` (the same as `rag serve`). Builds the index first if needed."""

import sys

from rag.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
