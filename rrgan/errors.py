"""Errors that describe a user's mistake: the CLI prints them as one line, without a traceback."""


class RRGANError(Exception):
    """A problem with the user's input (a path, a file, a setting), stated in words."""
