"""Errors the console scripts turn into one line on stderr, without a traceback."""


class RRGANError(Exception):
    """A problem with the user's input (a path, a file, a setting), stated in words."""


class Stopped(Exception):
    """A run that a signal stopped after it saved its state: the console scripts print the message
    and exit with 128 + the signal's number, as a process killed by it would."""

    def __init__(self, message: str, signal_number: int):
        super().__init__(message)
        self.signal_number = signal_number
