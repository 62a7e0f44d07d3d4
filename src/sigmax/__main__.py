"""``python -m sigmax``: the same command line as ``sigmax``."""

from .cli import main

if __name__ == "__main__":
    main(prog_name="sigmax")
