"""The offline rules engine (`engine.extract`): labelled facts in the text, the unit and year, projects told
in running text, the problems and measures; tables are read through `service.core`."""
