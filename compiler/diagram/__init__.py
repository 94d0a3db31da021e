"""IR -> architecture diagrams: Graphviz (DOT text, or SVG/PNG/PDF drawn by `dot`) and Mermaid."""
