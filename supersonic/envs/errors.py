"""Exceptions a user can cause through an environment; each message is one line saying what to do.

They are part of the API: the CLI turns any of them into a one-line error and exit status 2.
"""

from __future__ import annotations


class SupersonicEnvError(Exception):
    """Base of every error caused by the user's input to an environment."""


class BenchmarkError(SupersonicEnvError, ValueError):
    """A program could not be turned into a benchmark. The message names the program."""


class ProgramNotFoundError(BenchmarkError, FileNotFoundError):
    """The program file, built-in name, URI or dataset does not exist."""


class EmptyProgramError(BenchmarkError):
    """The program file is empty or has no function bodies to optimize."""


class CompileError(BenchmarkError):
    """clang could not compile the C program."""


class NotIrError(BenchmarkError):
    """The file is neither LLVM IR text nor LLVM bitcode LLVM 14 can read."""


class ConversionError(BenchmarkError):
    """The IR uses something CompilerGym's LLVM 10 cannot read, so it cannot be a benchmark."""


class ProgramTooLargeError(BenchmarkError):
    """The program has more IR instructions than the configured limit."""


class UnknownActionError(SupersonicEnvError, KeyError):
    """An action name that is not one of the environment's passes."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0]) if self.args else ""


class InvalidActionError(SupersonicEnvError, ValueError):
    """An action index outside the action space, or of a type that is not an action."""


class UnknownObservationError(SupersonicEnvError, KeyError):
    """An observation name the environment does not offer."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
