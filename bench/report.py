"""Where a benchmark's results go: printed as Markdown, and written as JSON with the Markdown
beside it (`OUT.json` + `OUT.md`)."""
from __future__ import annotations

import json
import os
from typing import Optional


def write_report(results: dict, text: str, output: Optional[str]) -> None:
  """Prints `text`; with `output`, writes `results` to it as JSON and `text` beside it (.md)."""
  print(text)
  if output:
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, 'w') as f:
      json.dump(results, f, indent=1)
    with open(os.path.splitext(output)[0] + '.md', 'w') as f:
      f.write(text)
