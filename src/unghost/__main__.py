"""`python -m unghost …`: the same as the `unghost` command."""

from unghost.cli import main

if __name__ == "__main__":
    main()
