"""What goext writes: the JSON snapshot and its schema, the schema checker and
the HTML report.  Imports every layer below it, never commands/."""
