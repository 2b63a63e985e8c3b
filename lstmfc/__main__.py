"""``python -m lstmfc`` entry point."""

from lstmfc.cli import main

if __name__ == "__main__":
    main()
