"""citebot's Discord adapter and command line: the only package that imports discord."""
