"""`python -m bridge ...` is the `bridge` command (what `bridge up` uses to start its children)."""

from bridge.cli import main

if __name__ == "__main__":
    main(prog_name="bridge")
