"""Units expected to report (应报送单位): the registry's rules (`registry`), reading the list from a CSV or XLSX
file (`importing`), and matching a report's unit name to a unit of the list (`matching`). Pure: the store keeps
the list, the web app and the CLI show it (docs/units.md)."""
