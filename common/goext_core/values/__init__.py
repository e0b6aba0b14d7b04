"""Go values: the type model (types; from DWARF in dwarftypes, from runtime
type descriptors in rtypes), the value data model (model), the decoder
(decode), maps, DWARF locations, and the one formatter table (formatters)
shared by gdb and lldb.  Imports target/, binary/ and runtime/."""
