"""The executable, read without a target: ELF sections and symbols (elf), the
.go.buildinfo blob (buildinfo), the pc/line tables (pclntab), symbol files for
stripped binaries (symfile), debuginfod, the on-disk index (diskindex) and the
one LEB128 reader (leb128).  Imports only errors, textsafe, progress and
:mod:`goext_core.target` (the byte order, regular-file checks)."""
