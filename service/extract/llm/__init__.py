"""The LLM engine: a coverage-first planner (`planner`), prompts and schemas (`prompts`, `schema`), the client
(`client`, the only code that touches the network), recordings (`replay`) and the engine (`engine`, `runner`)."""
