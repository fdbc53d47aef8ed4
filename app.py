"""Web app: the chat page and the OpenAI-compatible API (see README).

    python app.py [--host 127.0.0.1] [--port 7860] [--kb DIR]

The same as `python -m qa serve`: one entry, one argument parser (qa/cli.py).
"""
import sys

from qa.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
