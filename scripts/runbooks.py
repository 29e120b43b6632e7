#!/usr/bin/env python3
"""Checks the runbooks and runs their runnable blocks (driven by scripts/test-runbooks).

  scripts/runbooks.py check                 structure, links, and every command of every block
  scripts/runbooks.py run ENV_FILE          the `sh runnable` blocks, one shell per runbook

Structure: every runbook has every section, in order; every runbook a terraform file links to
exists; links between runbooks resolve; the index (README.md) lists every runbook. Commands: the
first word of each command in an `sh` block is a command of this repository or a known external
tool; every `owp`/`deployer` subcommand answers `--help` and every `--flag` given to it appears
in that help. It prints one line per problem and a closing "N passed, N failed" line.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUNBOOKS = REPO / "runbooks"
SECTIONS = [
    "What it means",
    "Symptoms and the alarm that fires",
    "Impact",
    "Diagnosis",
    "Fix",
    "Verification",
    "Rollback",
    "Escalation",
]
# External tools the machines have (an app instance, a Kafka or ZooKeeper node, an operator's
# machine), and shell builtins and utilities used around the real commands.
EXTERNAL = {"aws", "psql", "curl", "terraform", "systemctl", "journalctl", "python3", "xfs_growfs"}
SHELL = {
    "set", "source", ".", "export", "cd", "echo", "printf", "test", "[", "true", "cat", "grep",
    "sed", "head", "tail", "sort", "cut", "ls", "wc", "{", "}", "exec",
}
# Kafka's own tools, installed in /opt/kafka/bin by packer/scripts/kafka-image.sh on brokers and
# metadata nodes.
KAFKA_TOOLS = re.compile(r"^/opt/kafka/bin/[a-z-]+\.sh$")
# The images' own tools (owp-node-health, owp-kafka-node, ...): /usr/local/sbin/<name> must be a
# file the image scripts install from packer/files/.
IMAGE_TOOLS = re.compile(r"^/usr/local/sbin/(owp-[a-z-]+)$")
# Subcommands that other work is adding; their blocks are checked once the binary has them.
PENDING = {}


def runbooks():
    return sorted(p for p in RUNBOOKS.glob("*.md") if p.name != "README.md")


def blocks(text):
    """(info string, body, line number) of every fenced block."""
    found, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        match = re.match(r"^(\s*)```(.*)$", lines[i])
        if match:
            info, start, body = match.group(2).strip(), i + 1, []
            i += 1
            while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
                body.append(lines[i][len(match.group(1)):])
                i += 1
            found.append((info, "\n".join(body), start))
        i += 1
    return found


def substitutions(line):
    """The insides of every $(...) in a line (balanced parentheses, possibly nested)."""
    found, start = [], line.find("$(")
    while start != -1:
        depth, i = 0, start + 1
        while i < len(line):
            depth += {"(": 1, ")": -1}.get(line[i], 0)
            if depth == 0:
                break
            i += 1
        inner = line[start + 2 : i]
        found.append(inner)
        found.extend(substitutions(inner))
        start = line.find("$(", i)
    return found


def commands(body):
    """Each simple command of a shell block, as a list of words: pipelines and lists split,
    redirections and leading VAR=value assignments dropped, command substitutions included."""
    joined = re.sub(r"\\\n", " ", body)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pieces = [line] + substitutions(line)
        for piece in pieces:
            lexer = shlex.shlex(piece, posix=True, punctuation_chars=";&|<>")
            lexer.whitespace_split = True
            lexer.commenters = "#"
            try:
                tokens = list(lexer)
            except ValueError:
                tokens = piece.split()
            words, i = [], 0
            while i <= len(tokens):
                token = tokens[i] if i < len(tokens) else ";"
                operator = bool(token) and set(token) <= set(";&|<>")
                if operator and ("<" in token or ">" in token):
                    # A redirection: drop it, its target, and an fd number before it.
                    if words and words[-1].isdigit():
                        words.pop()
                    i += 2
                    continue
                if operator:
                    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
                        words.pop(0)
                    if words:
                        result.append(words)
                    words = []
                else:
                    words.append(token)
                i += 1
    return result


class Checker:
    def __init__(self, bins):
        self.bins = bins
        self.problems, self.pending, self.checked = [], [], 0
        self._help = {}

    def help(self, path):
        """--help text of a (sub)command path such as ("owp", "deadletter", "list"), or None."""
        if path not in self._help:
            binary = self.bins.get(path[0])
            try:
                out = subprocess.run(
                    [binary, *path[1:], "--help"], capture_output=True, text=True, timeout=30
                )
                self._help[path] = out.stdout if out.returncode == 0 else None
            except (OSError, TypeError, subprocess.TimeoutExpired):
                self._help[path] = None
        return self._help[path]

    @staticmethod
    def subcommands(help_text):
        names, inside = set(), False
        for line in help_text.splitlines():
            if line.startswith("Commands:"):
                inside = True
            elif inside and re.match(r"^\S", line):
                inside = False
            elif inside and (m := re.match(r"^  (\S+)", line)):
                names.add(m.group(1))
        return names

    def check_cli(self, where, words):
        path = (words[0],)
        rest = words[1:]
        text = self.help(path)
        if text is None:
            self.problems.append(f"{where}: `{words[0]} --help` does not answer")
            return
        while rest and not rest[0].startswith("-") and rest[0] in self.subcommands(text):
            path, rest = path + (rest[0],), rest[1:]
            text = self.help(path)
            if text is None:
                self.problems.append(f"{where}: `{' '.join(path)} --help` does not answer")
                return
        if rest and not rest[0].startswith("-") and self.subcommands(text):
            key = path + (rest[0],)
            if key in PENDING:
                self.pending.append(f"{where}: `{' '.join(words)}` ({PENDING[key]})")
            else:
                self.problems.append(f"{where}: `{' '.join(key)}` is not a subcommand")
            return
        for token in rest:
            if token.startswith("--") and len(token) > 2:
                flag = token.split("=", 1)[0]
                if not re.search(rf"(^|[\s,\[]){re.escape(flag)}([\s=,\]<]|$)", text, re.M):
                    self.problems.append(f"{where}: `{' '.join(path)}` has no flag {flag}")

    def check_command(self, where, words):
        first = words[0]
        self.checked += 1
        if first in ("owp", "deployer"):
            self.check_cli(where, words)
        elif first.startswith(("scripts/", "jenkins/", "terraform/")):
            script = REPO / first
            if not (script.is_file() and os.access(script, os.X_OK)):
                self.problems.append(f"{where}: {first} is not an executable file of this repository")
        elif first in EXTERNAL or first in SHELL or KAFKA_TOOLS.match(first):
            pass
        elif m := IMAGE_TOOLS.match(first):
            if not list((REPO / "packer/files").glob(f"*/{m.group(1)}")):
                self.problems.append(f"{where}: {first} is not a tool any image installs (packer/files/*/)")
        else:
            self.problems.append(f"{where}: `{first}` is not a known command")


def check(bins):
    checker = Checker(bins)
    problems = checker.problems
    names = {p.name for p in runbooks()}
    for path in runbooks():
        text = path.read_text()
        headings = re.findall(r"^## (.+?)\s*$", text, re.M)
        missing = [s for s in SECTIONS if s not in headings]
        if missing:
            problems.append(f"{path.name}: missing sections {missing}")
        elif [h for h in headings if h in SECTIONS] != SECTIONS:
            problems.append(f"{path.name}: sections out of order {headings}")
        for target in re.findall(r"\]\(([^)#]+\.md)\)", text):
            if not (RUNBOOKS / target).is_file():
                problems.append(f"{path.name}: link to {target}, which does not exist")
        for info, body, line in blocks(text):
            if info.split()[:1] != ["sh"]:
                continue
            for words in commands(body):
                checker.check_command(f"{path.name}:{line}", words)
    # Every runbook a terraform file links to exists (the alarms' descriptions name them).
    linked = set()
    for tf in (REPO / "terraform").rglob("*"):
        if tf.suffix in (".tf", ".md") and ".terraform" not in tf.parts:
            text = tf.read_text()
            linked |= set(re.findall(r"runbooks/([a-z0-9-]+\.md)", text))
            if tf.suffix == ".tf":
                linked |= set(re.findall(r"=\s*\"([a-z0-9-]+\.md)\"", text))
    if len(linked) < 4:
        problems.append(f"found only {sorted(linked)} linked from terraform/: has the runbook map moved?")
    for name in sorted(linked - names):
        problems.append(f"terraform/ links runbooks/{name}, which does not exist")
    index = (RUNBOOKS / "README.md").read_text()
    for name in sorted(names):
        if f"]({name})" not in index:
            problems.append(f"runbooks/README.md does not list {name}")
    for line in checker.pending:
        print(f"pending: {line}")
    for line in problems:
        print(f"FAILED: {line}")
    print(
        f"runbooks checked: {len(names)} runbooks, {checker.checked} commands, "
        f"{len(linked)} linked from terraform/, {len(checker.pending)} pending"
    )
    return not problems


def run(env_file):
    passed, failed = [], []
    for path in runbooks():
        runnable = [(body, line) for info, body, line in blocks(path.read_text()) if info.split() == ["sh", "runnable"]]
        if not runnable:
            continue
        script = "\n".join(f"# {path.name}:{line}\n{body}" for body, line in runnable)
        print(f"==> {path.name}: {len(runnable)} runnable blocks", flush=True)
        # The runbook's text, as a person would paste it into a shell on an app instance whose
        # environment the env file gives.
        wrapper = f"set -a; source {shlex.quote(str(env_file))}; set +a; set -euo pipefail -x\n{script}\n"
        try:
            result = subprocess.run(["bash", "-c", wrapper], cwd=REPO, timeout=600)
            ok = result.returncode == 0
        except subprocess.TimeoutExpired:
            ok = False
        (passed if ok else failed).append(path.name)
        print(f"{'ok' if ok else 'FAILED'}: {path.name}", flush=True)
    print(f"runbooks: {len(passed)} passed, {len(failed)} failed")
    if failed:
        print("failed: " + ", ".join(failed))
    return not failed and bool(passed)


def main():
    args = sys.argv[1:]
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/owp/target"))
    bins = {
        "owp": os.path.join(target, "release/owp"),
        "deployer": os.path.join(target, "deployer-size/release/deployer"),
    }
    if args == ["check"]:
        sys.exit(0 if check(bins) else 1)
    if len(args) == 2 and args[0] == "run":
        sys.exit(0 if run(Path(args[1]).resolve()) else 1)
    sys.exit(__doc__)


if __name__ == "__main__":
    main()
