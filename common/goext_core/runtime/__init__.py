"""The Go runtime seen from outside: struct layouts (DWARF, else per-version
tables), goroutines and Ms, the unwinder, stacks, scheduler views, the wait
graph, and runtime globals found by shape in stripped binaries.  Imports
target/ and binary/; needs :class:`goext_core.program.GoProgram` for typing only."""
