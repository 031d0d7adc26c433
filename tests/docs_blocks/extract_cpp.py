#!/usr/bin/env python3
"""Writes the ```cpp blocks of Markdown files as C++ programs, so a build can compile them.

The convention (docs/walkthrough.md says it too):
  - Only fenced blocks whose info string is exactly `cpp` are compiled; show anything else (shell
    output, PyTorch, pseudo-code) as ```text, ```python, ```sh ...
  - A block with `int main(` is a whole program and is compiled alone.
  - Every other cpp block of a file is a fragment, like a notebook cell: the fragments of one file
    are joined in order into one program, inside `int main() { ... }`, after
    `#include <ember/ember.hpp>`, <cstdio>, <iostream> and `using namespace ember;`; their own
    `#include` lines move to the top. So a fragment may use what an earlier one declared.
  - A fragment preceded by the line `<!-- cpp: namespace scope -->` (invisible once rendered)
    defines types or functions: it goes before main instead.

Usage: extract_cpp.py OUT_DIR FILE.md...   Writes OUT_DIR/<file>_<n>.cpp (whole programs) and
OUT_DIR/<file>_cells.cpp (the fragments), each starting with a #line naming the Markdown file, so
a compiler error points at the document; prints the written paths one per line.
"""
import os
import re
import sys

PRELUDE = "#include <cstdio>\n#include <iostream>\n\n#include <ember/ember.hpp>\n"


def blocks(path):
    """Yields (line number of the first code line, code, namespace_scope) for each ```cpp block."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```cpp":
            scope = i > 0 and lines[i - 1].strip() == "<!-- cpp: namespace scope -->"
            start = i + 1
            j = start
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            if j == len(lines):
                sys.exit(f"{path}:{i + 1}: a ```cpp block is never closed")
            yield start + 1, "\n".join(lines[start:j]) + "\n", scope
            i = j
        i += 1


def main():
    out, files = sys.argv[1], sys.argv[2:]
    os.makedirs(out, exist_ok=True)
    written = []
    for path in files:
        stem = re.sub(r"[^A-Za-z0-9]+", "_", os.path.splitext(os.path.basename(path))[0])
        where = os.path.abspath(path)
        includes, scope_parts, cells = [], [], []
        for n, (line, code, scope) in enumerate(blocks(path)):
            if re.search(r"\bint\s+main\s*\(", code):
                name = os.path.join(out, f"{stem}_{n}.cpp")
                with open(name, "w") as f:
                    f.write(f'#line {line} "{where}"\n{code}')
                written.append(name)
                continue
            body = []
            for k, text in enumerate(code.split("\n")):
                if text.startswith("#include"):
                    includes.append(text)
                    body.append("")  # keeps the line numbers
                else:
                    body.append(text)
            (scope_parts if scope else cells).append(f'#line {line} "{where}"\n' + "\n".join(body))
        if scope_parts or cells:
            name = os.path.join(out, f"{stem}_cells.cpp")
            with open(name, "w") as f:
                f.write(PRELUDE + "\n".join(includes) + "\n\nusing namespace ember;\n\n")
                f.write("\n".join(scope_parts) + "\n")
                f.write("int main() {\n" + "\n".join(cells) + "\n}\n")
            written.append(name)
    print("\n".join(written))


if __name__ == "__main__":
    main()
