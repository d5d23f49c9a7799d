"""Tests of the command line, one file per module of actsparse/cli (a package: the names of
these files repeat names in other test folders)."""
