"""A renderer for the subset of Terraform's template language we use.

The ZooKeeper, Kafka and user-data templates under terraform/templates are
rendered by Terraform's templatefile() on AWS, and by scripts/services (the local stack)
and tests/infra here, so every local run uses the very files the instances
get. As a command: python3 tftpl.py TEMPLATE VARIABLES_JSON prints the result. Supported: ${expr},
%{ for x in expr }...%{ endfor }, %{ if expr }...%{ else }...%{ endif },
strip markers (~), and $${ / %%{ escapes. An expression is a dotted name
(var or var.attr), a string or integer literal, or a == / != comparison of
two of those. Anything else raises UnsupportedTemplate, so a template that
grows beyond this subset fails the tests instead of rendering wrongly.
"""

import json
import re
import sys

TOKEN = re.compile(r"(?P<escape>\$\$\{|%%\{)|(?P<kind>[$%])\{(?P<lstrip>~?)(?P<body>.*?)(?P<rstrip>~?)\}", re.S)
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class UnsupportedTemplate(ValueError):
    """The template uses syntax outside the supported subset."""


def _tokens(text):
    out, pos = [], 0
    for m in TOKEN.finditer(text):
        out.append(["text", text[pos:m.start()]])
        if m.group("escape"):
            out.append(["text", m.group("escape")[1:]])
        else:
            kind = "interp" if m.group("kind") == "$" else "directive"
            out.append([kind, m.group("body").strip(), bool(m.group("lstrip")), bool(m.group("rstrip"))])
        pos = m.end()
    out.append(["text", text[pos:]])
    # Strip markers remove all whitespace (newlines included) on their side.
    for i, tok in enumerate(out):
        if tok[0] == "text":
            continue
        if tok[2] and i > 0 and out[i - 1][0] == "text":
            out[i - 1][1] = out[i - 1][1].rstrip()
        if tok[3] and i + 1 < len(out) and out[i + 1][0] == "text":
            out[i + 1][1] = out[i + 1][1].lstrip()
    return out


def _parse(tokens, pos=0, until=()):
    """Returns (nodes, pos, closing-directive)."""
    nodes = []
    while pos < len(tokens):
        tok = tokens[pos]
        pos += 1
        if tok[0] in ("text", "interp"):
            nodes.append((tok[0], tok[1]))
            continue
        words = tok[1].split()
        head = words[0] if words else ""
        if head in until:
            return nodes, pos, head
        if head == "for":
            m = re.fullmatch(r"for\s+([A-Za-z_]\w*)\s+in\s+(.+)", tok[1])
            if not m:
                raise UnsupportedTemplate(f"unsupported for directive: {tok[1]!r}")
            body, pos, end = _parse(tokens, pos, ("endfor",))
            if end != "endfor":
                raise UnsupportedTemplate("for without endfor")
            nodes.append(("for", m.group(1), m.group(2), body))
        elif head == "if":
            then, pos, end = _parse(tokens, pos, ("else", "endif"))
            other = []
            if end == "else":
                other, pos, end = _parse(tokens, pos, ("endif",))
            if end != "endif":
                raise UnsupportedTemplate("if without endif")
            nodes.append(("if", tok[1][2:].strip(), then, other))
        else:
            raise UnsupportedTemplate(f"unsupported directive: {tok[1]!r}")
    if until:
        raise UnsupportedTemplate(f"missing {'/'.join(until)}")
    return nodes, pos, None


def _value(expr, scope):
    expr = expr.strip()
    if re.fullmatch(r'"[^"\\$%]*"', expr):
        return expr[1:-1]
    if re.fullmatch(r"-?[0-9]+", expr):
        return int(expr)
    if NAME.match(expr):
        parts = expr.split(".")
        if parts[0] not in scope:
            raise KeyError(f"template variable {parts[0]!r} is not set")
        value = scope[parts[0]]
        for attr in parts[1:]:
            value = value[attr]
        return value
    for op in ("==", "!="):
        if op in expr:
            left, right = expr.split(op, 1)
            same = _value(left, scope) == _value(right, scope)
            return same if op == "==" else not same
    raise UnsupportedTemplate(f"unsupported expression: {expr!r}")


def _string(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return str(value)
    raise UnsupportedTemplate(f"cannot interpolate a {type(value).__name__}")


def _render(nodes, scope):
    out = []
    for node in nodes:
        if node[0] == "text":
            out.append(node[1])
        elif node[0] == "interp":
            out.append(_string(_value(node[1], scope)))
        elif node[0] == "for":
            for item in _value(node[2], scope):
                out.append(_render(node[3], {**scope, node[1]: item}))
        elif node[0] == "if":
            cond = _value(node[1], scope)
            if not isinstance(cond, bool):
                raise UnsupportedTemplate(f"if condition is not a bool: {node[1]!r}")
            out.append(_render(node[2] if cond else node[3], scope))
    return "".join(out)


def render(text, variables):
    """Render template text with a dict of variables."""
    nodes, _, _ = _parse(_tokens(text))
    return _render(nodes, dict(variables))


def render_file(path, variables):
    with open(path, encoding="utf-8") as f:
        return render(f.read(), variables)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: tftpl.py TEMPLATE VARIABLES_JSON")
    sys.stdout.write(render_file(sys.argv[1], json.loads(sys.argv[2])))
