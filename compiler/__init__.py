"""Back ends of archdsl. Each sees only the IR (archdsl.ir), never the syntax."""
